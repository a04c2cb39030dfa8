/* emit_weights.c: the constants of a planned graph as C (part of NAME.c).
 *
 * Small tensors are literal arrays (exact: floats printed with 9 significant digits);
 * large ones are byte strings inside a union with a typed array, which clang and gcc
 * parse in about a second for resnet18's 47 MB where decimal literals take minutes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/emit_internal.h"
#include "backend/emitter.h"

static void emit_literal_values(StrBuf *c, const Value *v) {
    int64_t n = ir_numel(v);
    char buf[40];
    for (int64_t i = 0; i < n; i++) {
        if (i % 8 == 0) sb_puts(c, i ? ",\n    " : "    ");
        else sb_puts(c, ", ");
        switch (v->dtype) {
        case DT_FLOAT: sb_puts(c, c_float(buf, ((const float *)v->data)[i])); break;
        case DT_DOUBLE: sb_puts(c, c_double(buf, ((const double *)v->data)[i])); break;
        case DT_BOOL: sb_puts(c, ((const unsigned char *)v->data)[i] ? "true" : "false"); break;
        case DT_UINT64:
            sb_printf(c, "UINT64_C(%llu)", (unsigned long long)((const uint64_t *)v->data)[i]);
            break;
        case DT_UINT32:
            sb_printf(c, "%luu", (unsigned long)((const uint32_t *)v->data)[i]);
            break;
        case DT_FLOAT16: case DT_BFLOAT16:
            sb_printf(c, "0x%04x", (unsigned)((const uint16_t *)v->data)[i]);
            break;
        default: sb_puts(c, c_int64(buf, ir_const_get_i64(v, i))); break;
        }
    }
    sb_putc(c, '\n');
}

/* Bytes as a string literal, 3-digit octal escapes for everything but plain characters
 * (so an escape never absorbs the next digit), split in lines of 64 bytes.  Built with a
 * per-call table and one append per line: resnet50's 100 MB must not take seconds here. */
static void emit_byte_string(StrBuf *c, const unsigned char *p, size_t n) {
    char esc[256][4];
    unsigned char esc_len[256];
    {
        for (int b = 0; b < 256; b++) {
            if (b >= 0x20 && b < 0x7f && b != '"' && b != '\\' && b != '?') {
                esc[b][0] = (char)b;
                esc_len[b] = 1;
            } else {
                esc[b][0] = '\\';
                esc[b][1] = (char)('0' + (b >> 6));
                esc[b][2] = (char)('0' + ((b >> 3) & 7));
                esc[b][3] = (char)('0' + (b & 7));
                esc_len[b] = 4;
            }
        }
    }
    char line[64 * 4 + 16];
    for (size_t i = 0; i < n; i += 64) {
        size_t len = 0;
        memcpy(line, "    \"", 5);
        len = 5;
        for (size_t j = i; j < n && j < i + 64; j++) {
            memcpy(line + len, esc[p[j]], esc_len[p[j]]);
            len += esc_len[p[j]];
        }
        memcpy(line + len, "\"\n", 2);
        len += 2;
        sb_putn(c, line, len);
    }
    if (n == 0) sb_puts(c, "    \"\"\n");
}

static bool is_literal(const Ctx *x, const Value *v) {
    return x->opt->weights == WEIGHTS_LITERAL ||
           (x->opt->weights == WEIGHTS_AUTO && ir_numel(v) <= LITERAL_MAX_ELEMS);
}

/* The C name of every constant a live node or a graph output may refer to. */
bool emit_name_weights(Ctx *x) {
    const Graph *g = x->g;
    char frag[C_FRAGMENT_MAX + 1], expr[96];
    for (int i = 0; i < g->n_values; i++) {
        const Value *v = g->values[i];
        if (!v->data) continue;
        c_name_sanitize(v->name, frag, C_FRAGMENT_MAX);
        snprintf(expr, sizeof expr, "w%d_%s%s", v->id, frag, is_literal(x, v) ? "" : ".values");
        x->refs[i].expr = emit_xstrdup(expr);
        if (!x->refs[i].expr) return false;
    }
    return true;
}

/* Emits the constants that the node functions and the entry point use. */
bool emit_weights(Ctx *x, StrBuf *c) {
    const Graph *g = x->g;
    char q[512], shape[256];
    bool any = false;
    for (int i = 0; i < g->n_values; i++) {
        const Value *v = g->values[i];
        if (!v->data || !x->refs[i].used) continue;
        const char *ct = dtype_ctype(v->dtype);
        if (!ct) {
            diag_error(x->d, NULL, "constant '%s' has type %s, which the C backend cannot emit",
                       v->name, dtype_name(v->dtype));
            return false;
        }
        int64_t n = ir_numel(v);
        size_t nbytes = ir_nbytes(v);
        /* The identifier: the expression without ".values". */
        char id[96];
        snprintf(id, sizeof id, "%s", x->refs[i].expr);
        char *dot = strchr(id, '.');
        if (dot) *dot = '\0';
        if (!any) sb_puts(c, "/* ---- weights ---- */\n\n");
        any = true;
        sb_printf(c, "/* '%s': %s */\n", emit_quote(q, sizeof q, v->name),
                  ir_shape_str(shape, sizeof shape, v));
        if (is_literal(x, v)) {
            sb_printf(c, "static _Alignas(64) const %s %s[%lld] = {\n", ct, id,
                      (long long)(n > 0 ? n : 1));
            if (n > 0) emit_literal_values(c, v);
            else sb_puts(c, "    0\n");
            sb_puts(c, "};\n\n");
        } else {
            /* The union gives the bytes the alignment and type of the values. */
            sb_printf(c, "static _Alignas(64) const union {\n    unsigned char bytes[%zu];\n"
                      "    %s values[%lld];\n} %s = {\n", nbytes + 1, ct, (long long)n, id);
            emit_byte_string(c, v->data, nbytes);
            sb_puts(c, "};\n\n");
        }
    }
    return true;
}
