/* emit_weights.c: the constants of a planned graph: part of NAME.c, and in two modes the
 * files NAME.weights and NAME_weights.S beside it.
 *
 * --weights chooses how (WeightsMode):
 *   literal  C arrays of literals (floats with 9 significant digits: exact).  Readable,
 *            but compilers take minutes over millions of decimal numbers.
 *   blob     byte strings in a union with the typed array: clang and gcc parse them about
 *            a hundred times faster (resnet18's 47 MB in about 1.5 s).
 *   auto     literals up to LITERAL_MAX_ELEMS elements, byte strings above (the default).
 *   incbin   the tensors go to NAME.weights, and NAME_weights.S links that file into the
 *            program with the assembler's .incbin: the C holds no weight bytes at all.
 *   file     the tensors go to NAME.weights, which the caller loads and hands to
 *            NAME_set_weights(): nothing of the weights is built or linked.
 * In the last two, NAME.c names each tensor with a macro for its place in NAME.weights,
 * so NAME_run reads the same as in the other modes.
 *
 * NAME.weights: a header of WFILE_HEADER_BYTES (see write_header), then each tensor at an
 * offset that is a multiple of 64, in value-id order, zero-padded to a multiple of 64.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/emit_internal.h"
#include "backend/emitter.h"

enum {
    WFILE_HEADER_BYTES = 64,    /* also the alignment of every tensor in the file */
    WFILE_VERSION = 1,
    BYTES_PER_LINE = 128,       /* of a byte-string literal */
};
/* The first 8 bytes of NAME.weights (the string's NUL is not written). */
static const char wfile_magic[] = "ONNXCCWT";

static const char *const mode_names[] = {
    [WEIGHTS_AUTO] = "auto", [WEIGHTS_LITERAL] = "literal", [WEIGHTS_BLOB] = "blob",
    [WEIGHTS_INCBIN] = "incbin", [WEIGHTS_FILE] = "file",
};
_Static_assert(sizeof mode_names / sizeof mode_names[0] == WEIGHTS_FILE + 1,
               "one name per WeightsMode");

const char *weights_mode_name(WeightsMode mode) { return mode_names[mode]; }

bool weights_mode_parse(const char *s, WeightsMode *mode) {
    for (int m = 0; m <= WEIGHTS_FILE; m++) {
        if (strcmp(s, mode_names[m]) == 0) {
            *mode = (WeightsMode)m;
            return true;
        }
    }
    return false;
}

static bool in_weights_file(const Ctx *x) {
    return x->opt->weights == WEIGHTS_INCBIN || x->opt->weights == WEIGHTS_FILE;
}

static bool is_literal(const Ctx *x, const Value *v) {
    return x->opt->weights == WEIGHTS_LITERAL ||
           (x->opt->weights == WEIGHTS_AUTO && ir_numel(v) <= LITERAL_MAX_ELEMS);
}

/* ---- C literals and byte strings -------------------------------------------------- */

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
        case DT_INT4: case DT_INT2: sb_printf(c, "%d", ((const int8_t *)v->data)[i]); break;
        default:
            if (dtype_is_lowp(v->dtype))   /* one byte: float8/float4 bits, uint4/uint2 */
                sb_printf(c, "%u", (unsigned)((const uint8_t *)v->data)[i]);
            else
                sb_puts(c, c_int64(buf, ir_const_get_i64(v, i)));
            break;
        }
    }
    sb_putc(c, '\n');
}

/* How each byte is written inside a string literal: [0] when the next character is not an
 * octal digit, [1] when it is.  Printable characters stand for themselves; the others are
 * octal escapes, as short as allowed ("\0", "\37", "\377"), except that before a digit
 * 0-7 the escape takes all three digits so that it does not absorb the digit.  '?' is
 * escaped against trigraphs. */
typedef struct EscapeTable {
    char text[2][256][4];
    unsigned char len[2][256];
} EscapeTable;

static void escape_table_init(EscapeTable *t) {
    for (int full = 0; full < 2; full++) {
        for (int b = 0; b < 256; b++) {
            char *s = t->text[full][b];
            memset(s, 0, 4);
            if (b >= 0x20 && b < 0x7f && b != '"' && b != '\\' && b != '?') {
                s[0] = (char)b;
                t->len[full][b] = 1;
                continue;
            }
            int digits = full || b >= 64 ? 3 : b >= 8 ? 2 : 1;
            s[0] = '\\';
            for (int k = 0; k < digits; k++)
                s[1 + k] = (char)('0' + ((b >> (3 * (digits - 1 - k))) & 7));
            t->len[full][b] = (unsigned char)(1 + digits);
        }
    }
}

/* The most characters emit_byte_string writes for n bytes (3 spare for its 4-byte stores). */
static size_t byte_string_bound(size_t n) {
    size_t lines = n / BYTES_PER_LINE + 1;
    return lines * (sizeof "    \"\"\n" - 1) + 4 * n + 3;
}

/* Bytes as string-literal lines.  resnet50's 100 MB go through here, so each byte costs
 * one table lookup and one 4-byte store into room reserved up front. */
static void emit_byte_string(StrBuf *c, const EscapeTable *t, const unsigned char *p,
                             size_t n) {
    if (!sb_reserve(c, byte_string_bound(n))) return;
    char *out = c->data + c->len;
    size_t i = 0;
    do {
        size_t end = n - i < BYTES_PER_LINE ? n : i + BYTES_PER_LINE;
        memcpy(out, "    \"", 5);
        out += 5;
        for (; i < end; i++) {
            /* The next character is a digit only if the next byte is one (in this line). */
            int full = i + 1 < end && (unsigned)(p[i + 1] - '0') < 8u;
            memcpy(out, t->text[full][p[i]], 4);
            out += t->len[full][p[i]];
        }
        memcpy(out, "\"\n", 2);
        out += 2;
    } while (i < n);
    c->len = (size_t)(out - c->data);
    c->data[c->len] = '\0';
}

/* The C name of every constant a live node or a graph output may refer to. */
bool emit_name_weights(Ctx *x) {
    const Graph *g = x->g;
    char frag[C_FRAGMENT_MAX + 1], expr[96];
    for (int i = 0; i < g->n_values; i++) {
        const Value *v = g->values[i];
        if (!v->data) continue;
        c_name_sanitize(v->name, frag, C_FRAGMENT_MAX);
        bool in_union = !in_weights_file(x) && !is_literal(x, v);
        snprintf(expr, sizeof expr, "w%d_%s%s", v->id, frag, in_union ? ".values" : "");
        x->refs[i].expr = emit_xstrdup(expr);
        if (!x->refs[i].expr) return false;
    }
    return true;
}

/* The constants' C type, or NULL with an error. */
static const char *weight_ctype(Ctx *x, const Value *v) {
    const char *ct = dtype_ctype(v->dtype);
    if (!ct)
        diag_error(x->d, NULL, "constant '%s' has type %s, which the C backend cannot emit",
                   v->name, dtype_name(v->dtype));
    return ct;
}

/* The identifier: the expression without ".values". */
static void weight_id(const Ctx *x, const Value *v, char *id, size_t size) {
    snprintf(id, size, "%s", x->refs[v->id].expr);
    char *dot = strchr(id, '.');
    if (dot) *dot = '\0';
}

static bool emit_weights_in_c(Ctx *x, StrBuf *c) {
    const Graph *g = x->g;
    char q[512], shape[256], id[96];
    EscapeTable esc;
    escape_table_init(&esc);
    /* Room for all the byte strings at once: resnet50's 300 MB are not moved as they grow. */
    size_t bound = 0;
    for (int i = 0; i < g->n_values; i++) {
        const Value *v = g->values[i];
        if (v->data && x->refs[i].used && !is_literal(x, v))
            bound += byte_string_bound(ir_nbytes(v)) + 1024;
    }
    if (bound && !sb_reserve(c, bound)) return true;   /* c->failed reports it */
    bool any = false;
    for (int i = 0; i < g->n_values; i++) {
        const Value *v = g->values[i];
        if (!v->data || !x->refs[i].used) continue;
        const char *ct = weight_ctype(x, v);
        if (!ct) return false;
        int64_t n = ir_numel(v);
        size_t nbytes = ir_nbytes(v);
        weight_id(x, v, id, sizeof id);
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
            emit_byte_string(c, &esc, v->data, nbytes);
            sb_puts(c, "};\n\n");
        }
    }
    return true;
}

/* ---- NAME.weights ---------------------------------------------------------------------- */

static size_t align_up(size_t n) {
    return (n + WFILE_HEADER_BYTES - 1) / WFILE_HEADER_BYTES * WFILE_HEADER_BYTES;
}

/* The bytes after the header: every used constant at the next multiple of 64, in id
 * order, and the end rounded up to 64 (so the checksum sees whole 32-byte blocks). */
static size_t wfile_tensor_bytes(const Ctx *x) {
    size_t bytes = 0;
    for (int i = 0; i < x->g->n_values; i++)
        if (x->g->values[i]->data && x->refs[i].used)
            bytes = align_up(bytes) + ir_nbytes(x->g->values[i]);
    return align_up(bytes);
}

static uint64_t load_le64(const unsigned char *p) {
    uint64_t w = 0;
    for (int k = 7; k >= 0; k--) w = w << 8 | p[k];
    return w;
}

static void put_le(StrBuf *s, uint64_t w, int bytes) {
    for (int k = 0; k < bytes; k++) sb_putc(s, (char)(w >> (8 * k) & 0xff));
}

/* The checksum of the tensor bytes (n, a multiple of 32): four interleaved FNV-1a-style
 * lanes over little-endian 8-byte words, then the length and the lanes folded together.
 * Each step is a bijection of its lane, so any one changed word changes the sum, and four
 * lanes hide the multiply's latency (resnet50's 100 MB: 60-80 ms).  The generated C has the
 * same function (CHECKSUM_C below); the CLI tests load a file to check that they agree. */
static uint64_t wfile_checksum(const unsigned char *p, size_t n) {
    const uint64_t prime = UINT64_C(0x100000001b3), basis = UINT64_C(0xcbf29ce484222325);
    uint64_t lane[4] = {basis, basis ^ 1, basis ^ 2, basis ^ 3};
    for (size_t i = 0; i < n; i += 32)
        for (int k = 0; k < 4; k++) lane[k] = (lane[k] ^ load_le64(p + i + 8 * k)) * prime;
    uint64_t sum = basis ^ (uint64_t)n;
    for (int k = 0; k < 4; k++) sum = (sum ^ lane[k]) * prime;
    return sum;
}

/* wfile_checksum in C for NAME.c: both "%s" are the model's prefix. */
static const char CHECKSUM_C[] =
    "/* The checksum in the header of %s.weights: four FNV-1a-style lanes over\n"
    " * little-endian 8-byte words (n is a multiple of 32), then the length and the lanes\n"
    " * folded together.  Any one changed word changes it. */\n"
    "static uint64_t %s_weights_checksum(const unsigned char *p, size_t n)\n{\n"
    "    const uint64_t prime = UINT64_C(0x100000001b3), basis = UINT64_C(0xcbf29ce484222325);\n"
    "    uint64_t lane[4] = {basis, basis ^ 1, basis ^ 2, basis ^ 3};\n"
    "    for (size_t i = 0; i < n; i += 32) {\n"
    "        for (int k = 0; k < 4; k++) {\n"
    "            uint64_t w;\n"
    "            memcpy(&w, p + i + 8 * k, 8);\n"
    "            lane[k] = (lane[k] ^ w) * prime;\n"
    "        }\n"
    "    }\n"
    "    uint64_t sum = basis ^ (uint64_t)n;\n"
    "    for (int k = 0; k < 4; k++) sum = (sum ^ lane[k]) * prime;\n"
    "    return sum;\n}\n\n";

/* The header, little-endian: magic (8 bytes), format version (4), header bytes (4),
 * tensor bytes (8), checksum of the tensor bytes (8), zeros to WFILE_HEADER_BYTES. */
static void write_header(StrBuf *s, uint64_t tensor_bytes, uint64_t checksum) {
    sb_putn(s, wfile_magic, 8);
    put_le(s, WFILE_VERSION, 4);
    put_le(s, WFILE_HEADER_BYTES, 4);
    put_le(s, tensor_bytes, 8);
    put_le(s, checksum, 8);
    put_le(s, 0, 8);
    put_le(s, 0, 8);
    put_le(s, 0, 8);
    put_le(s, 0, 8);
}

/* NAME_weights.S: the file linked in as the symbol NAME_weights, with its size checked. */
static void write_incbin_asm(const Ctx *x, StrBuf *s, size_t file_bytes) {
    const char *name = x->opt->name;
    sb_printf(s, "/* %s_weights.S: generated by onnxcc %s; do not edit.\n"
              " *\n * Links %s.weights (%zu bytes, the weights of %s.c) into the program as the\n"
              " * symbol %s_weights.  The assembler looks for %s.weights on the include\n"
              " * path: build with -I and this folder, as for %s.h:\n"
              " *     cc -c -Iout out/%s_weights.S\n"
              " * Written for ELF targets (Linux, the BSDs); elsewhere use --weights file. */\n"
              "#ifndef __ELF__\n#error \"%s_weights.S is written for ELF targets: use onnxcc "
              "--weights file\"\n#endif\n",
              name, ONNXCC_VERSION, name, file_bytes, name, name, name, name, name, name);
    sb_printf(s, "        .section .rodata\n        .balign %d\n        .globl %s_weights\n"
              "        .type %s_weights, %%object\n%s_weights:\n        .incbin \"%s.weights\"\n"
              "        .size %s_weights, . - %s_weights\n"
              "        .if . - %s_weights != %zu\n"
              "        .error \"%s.weights does not have the size %s.c was compiled for\"\n"
              "        .endif\n        .section .note.GNU-stack,\"\",%%progbits\n",
              WFILE_HEADER_BYTES, name, name, name, name, name, name, name, file_bytes, name,
              name);
}

/* File mode: the pointer to the caller's bytes, the checksum and NAME_set_weights(). */
static void emit_set_weights(const Ctx *x, StrBuf *c, size_t tensor_bytes, uint64_t checksum) {
    const char *name = x->opt->name;
    /* Why a setter rather than a weights argument of NAME_run: see the comment emitted. */
    sb_printf(c, "/* Set by %s_set_weights() rather than passed to every %s_run: the entry\n"
              " * points keep one signature in every --weights mode (so %s_run_generic and\n"
              " * programs written for the other modes do not change), and the weights are\n"
              " * one read-only block for the life of the program.  The price is this one\n"
              " * pointer of writable global state, set before the first run and not while\n"
              " * runs are in progress. */\nstatic const unsigned char *%s_weights;\n\n",
              name, name, name, name);
    sb_printf(c, CHECKSUM_C, name, name);
    sb_printf(c, "int %s_set_weights(const void *data, size_t size)\n{\n"
              "    const unsigned char *p = data;\n"
              "    uint32_t version, header_bytes;\n    uint64_t tensor_bytes, checksum;\n"
              "    if (!p || size != %zuu) return -1;\n"
              "    memcpy(&version, p + 8, 4);\n    memcpy(&header_bytes, p + 12, 4);\n"
              "    memcpy(&tensor_bytes, p + 16, 8);\n    memcpy(&checksum, p + 24, 8);\n"
              "    if (memcmp(p, \"%s\", 8) != 0 || version != %d || header_bytes != %d ||\n"
              "        tensor_bytes != %zuu || checksum != UINT64_C(0x%016llx))\n"
              "        return -2; /* another model's weights, or another compile's */\n"
              "    if ((uintptr_t)p %% 64u != 0) return -4;\n"
              "    if (%s_weights_checksum(p + %d, %zuu) != checksum) return -3;\n"
              "    %s_weights = p;\n    return 0;\n}\n\n",
              name, WFILE_HEADER_BYTES + tensor_bytes, wfile_magic, WFILE_VERSION,
              WFILE_HEADER_BYTES, tensor_bytes, (unsigned long long)checksum, name,
              WFILE_HEADER_BYTES, tensor_bytes, name);
}

static bool emit_weights_to_file(Ctx *x, StrBuf *c) {
    const Graph *g = x->g;
    const char *name = x->opt->name;
    WeightsFiles *files = x->opt->files;
    if (!files) {
        diag_error(x->d, NULL, "--weights %s writes %s.weights, which this command cannot use",
                   weights_mode_name(x->opt->weights), name);
        return false;
    }
    for (int i = 0; i < g->n_values; i++)
        if (g->values[i]->data && x->refs[i].used && !weight_ctype(x, g->values[i]))
            return false;
    size_t tensor_bytes = wfile_tensor_bytes(x);
    StrBuf *bin = &files->bin;
    static const unsigned char zeros[WFILE_HEADER_BYTES];
    if (!sb_reserve(bin, WFILE_HEADER_BYTES + tensor_bytes)) {
        diag_error(x->d, NULL, "out of memory for %s.weights (%zu bytes)", name, tensor_bytes);
        return false;
    }
    bin->len = WFILE_HEADER_BYTES;   /* written below, once the checksum is known */

    char q[512], shape[256], id[96];
    if (x->opt->weights == WEIGHTS_INCBIN)
        sb_printf(c, "/* ---- weights: in %s.weights, linked in by %s_weights.S ---- */\n\n",
                  name, name);
    else
        sb_printf(c, "/* ---- weights: in %s.weights, given by the caller ---- */\n\n", name);
    if (x->opt->weights == WEIGHTS_INCBIN)
        sb_printf(c, "/* The whole file, from %s_weights.S. */\n"
                  "extern const unsigned char %s_weights[%zu];\n\n", name, name,
                  WFILE_HEADER_BYTES + tensor_bytes);
    sb_printf(c, "/* %s.weights: a %d-byte header, then each tensor at a multiple of 64. */\n",
              name, WFILE_HEADER_BYTES);
    for (int i = 0; i < g->n_values; i++) {
        const Value *v = g->values[i];
        if (!v->data || !x->refs[i].used) continue;
        size_t offset = align_up(bin->len), nbytes = ir_nbytes(v);
        sb_putn(bin, (const char *)zeros, offset - bin->len);
        sb_putn(bin, v->data, nbytes);
        weight_id(x, v, id, sizeof id);
        sb_printf(c, "/* '%s' %s */\n#define %s ((const %s *)(const void *)(%s_weights + %zu))\n",
                  emit_quote(q, sizeof q, v->name), ir_shape_str(shape, sizeof shape, v), id,
                  dtype_ctype(v->dtype), name, offset);
    }
    sb_putn(bin, (const char *)zeros, WFILE_HEADER_BYTES + tensor_bytes - bin->len);
    sb_putc(c, '\n');
    if (bin->failed) return true;   /* reported by the caller like c->failed */

    uint64_t checksum = wfile_checksum((const unsigned char *)bin->data + WFILE_HEADER_BYTES,
                                       tensor_bytes);
    StrBuf header;
    sb_init(&header);
    write_header(&header, tensor_bytes, checksum);
    if (header.failed) bin->failed = true;
    else memcpy(bin->data, header.data, WFILE_HEADER_BYTES);
    sb_free(&header);

    if (x->opt->weights == WEIGHTS_INCBIN)
        write_incbin_asm(x, &files->s, WFILE_HEADER_BYTES + tensor_bytes);
    else
        emit_set_weights(x, c, tensor_bytes, checksum);
    return true;
}

bool emit_weights(Ctx *x, StrBuf *c) {
    return in_weights_file(x) ? emit_weights_to_file(x, c) : emit_weights_in_c(x, c);
}

void emit_weights_header(const Ctx *x, StrBuf *h) {
    const char *name = x->opt->name;
    if (x->opt->weights == WEIGHTS_INCBIN) {
        sb_printf(h, "/* The weights are in %s.weights, which %s_weights.S links in: build it\n"
                  " * with %s.c, with this folder on the include path (-I). */\n\n",
                  name, name, name);
        return;
    }
    if (x->opt->weights != WEIGHTS_FILE) return;
    sb_printf(h, "/* The weights are in %s.weights, not in %s.c.  Load that file into memory\n"
              " * aligned to 64 bytes (mmap, aligned_alloc) and hand its bytes over once,\n"
              " * before the first %s_run, which returns -1 until this has succeeded.  They\n"
              " * are not copied: keep them while the model is in use.  Returns 0, or -1 for\n"
              " * the wrong size, -2 for another model's (or compile's) weights, -3 for\n"
              " * corrupted bytes (checksum), -4 for memory not aligned to 64 bytes; a call\n"
              " * that fails changes nothing. */\n"
              "#define %s_WEIGHTS_FILE_BYTES %zu\n"
              "int %s_set_weights(const void *data, size_t size);\n\n", name, name, name, name,
              WFILE_HEADER_BYTES + wfile_tensor_bytes(x), name);
}

void emit_weights_run_check(const Ctx *x, StrBuf *c) {
    if (x->opt->weights == WEIGHTS_FILE)
        sb_printf(c, "    if (!%s_weights) return -1; /* %s_set_weights() has not succeeded */\n",
                  x->opt->name, x->opt->name);
}
