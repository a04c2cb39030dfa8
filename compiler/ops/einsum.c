/* einsum.c: Einsum, a sum of products over subscripts named by its equation attribute,
 * e.g. "bij,bjk->bik" (batched matmul), "ij->ji" (transpose), "ij->i" (row sums),
 * "i,i" (inner product), "i,j->ij" (outer product), "...ii->...i" (diagonals).
 *
 * The equation comes from the model, so the parser (es_parse_*) accepts only letters,
 * commas, spaces, one "->" and at most one "..." per term, checks every term against its
 * operand's rank, and bounds every array it fills.  Without "->", the output holds the
 * ellipsis dims then the letters used once, in alphabetical (ASCII) order.  A letter
 * repeated within a term takes a diagonal; letters absent from the output are summed;
 * ellipsis dims broadcast numpy-style across operands.
 *
 * One mechanism serves all forms: every distinct subscript becomes a loop, the output's
 * first (in output order, so y is written contiguously) and the summed ones inside; each
 * operand is read at the sum over its subscripts of loop variable * stride (a repeated
 * subscript adds its strides: the diagonal; a broadcast dim has stride 0).  Floats
 * accumulate in double and are rounded once; integers wrap in uint64_t.  The folder runs
 * the same loops in the same order, so folded and generated results agree. */
#include <stdio.h>
#include <string.h>

#include "base/checked.h"
#include "ir/shape.h"
#include "ops/op_util.h"

enum {
    ES_LETTERS = 52,                        /* a-z: 0-25, A-Z: 26-51 */
    ES_MAX_LABELS = ES_LETTERS + IR_MAX_RANK, /* then the ellipsis dims */
    ES_MAX_INPUTS = 8,
    ES_MAX_EQUATION = 4096,                 /* characters */
    ES_FOLD_MAX_STEPS = 1 << 28,            /* products the folder computes: ~1 s */
};

/* One term as written: its letters' labels in order and where the ellipsis stands
 * among them (-1: no ellipsis). */
typedef struct EsTerm {
    int n_letters;
    int letters[IR_MAX_RANK];
    int ellipsis_at;
} EsTerm;

/* The loop nest: labels renumbered as loops, the output's [0, n_out) first. */
typedef struct EsPlan {
    int n_inputs, n_loops, n_out;
    int64_t size[ES_MAX_LABELS];                        /* per loop */
    int64_t in_strides[ES_MAX_INPUTS][ES_MAX_LABELS];   /* per input, per loop */
    int64_t out_strides[ES_MAX_LABELS];
    char names[ES_MAX_LABELS];                          /* subscript letter, '.' */
    int out_rank;
    int64_t out_dims[IR_MAX_RANK];
} EsPlan;

static int es_label(char c) {
    if (c >= 'a' && c <= 'z') return c - 'a';
    if (c >= 'A' && c <= 'Z') return ES_LETTERS / 2 + (c - 'A');
    return -1;
}

static char es_letter(int label) {
    if (label >= ES_LETTERS) return '.';
    return label < ES_LETTERS / 2 ? (char)('a' + label) : (char)('A' + label - ES_LETTERS / 2);
}

/* Parses the term of s[*pos, end) up to a ',' (consumed when `comma`) or `end`. */
static bool es_parse_term(const Node *n, const char *s, size_t end, size_t *pos, EsTerm *t,
                          const char *what, Diag *d) {
    t->n_letters = 0;
    t->ellipsis_at = -1;
    while (*pos < end && s[*pos] != ',') {
        const char c = s[*pos];
        if (c == ' ') {
            (*pos)++;
        } else if (c == '.') {
            if (end - *pos < 3 || s[*pos + 1] != '.' || s[*pos + 2] != '.' ||
                t->ellipsis_at >= 0) {
                diag_error(d, n, "equation: %s has a '.' that is not one \"...\"", what);
                return false;
            }
            t->ellipsis_at = t->n_letters;
            *pos += 3;
        } else if (es_label(c) >= 0) {
            if (t->n_letters == IR_MAX_RANK) {
                diag_error(d, n, "equation: %s has more than %d subscripts", what,
                           IR_MAX_RANK);
                return false;
            }
            t->letters[t->n_letters++] = es_label(c);
            (*pos)++;
        } else {
            diag_error(d, n, "equation: unexpected character 0x%02x in %s", (unsigned char)c,
                       what);
            return false;
        }
    }
    return true;
}

/* Splits the equation into input terms and the output term (*has_out: "->" present). */
static bool es_parse(const Node *n, EsTerm *in, EsTerm *out, bool *has_out, Diag *d) {
    const Attr *a = ir_attr(n, "equation");
    if (!a || a->type != ATTR_STRING) {
        diag_error(d, n, "attribute 'equation' (a string) is required");
        return false;
    }
    const char *s = a->s;
    const size_t len = a->s_len;
    if (len > ES_MAX_EQUATION || memchr(s, '\0', len)) {
        diag_error(d, n, "equation: longer than %d characters or holding a NUL",
                   ES_MAX_EQUATION);
        return false;
    }
    const char *arrow = NULL;
    for (size_t i = 0; i < len; i++) {
        if (s[i] != '-' && s[i] != '>') continue;
        if (arrow || s[i] != '-' || i + 1 == len || s[i + 1] != '>') {
            diag_error(d, n, "equation: '-' and '>' may only appear as one \"->\"");
            return false;
        }
        arrow = s + i++;
    }
    *has_out = arrow != NULL;
    const size_t lhs_end = arrow ? (size_t)(arrow - s) : len;
    size_t pos = 0;
    for (int k = 0;; k++) {
        if (k == n->n_inputs) {
            diag_error(d, n, "equation: more terms than the %d inputs", n->n_inputs);
            return false;
        }
        char what[32];
        snprintf(what, sizeof what, "input term %d", k);
        if (!es_parse_term(n, s, lhs_end, &pos, &in[k], what, d)) return false;
        if (pos == lhs_end) {
            if (k + 1 != n->n_inputs) {
                diag_error(d, n, "equation: %d input terms for %d inputs", k + 1,
                           n->n_inputs);
                return false;
            }
            break;
        }
        pos++;  /* the ',' */
    }
    if (!arrow) return true;
    pos = lhs_end + 2;
    if (!es_parse_term(n, s, len, &pos, out, "the output term", d)) return false;
    if (pos != len) {
        diag_error(d, n, "equation: the output term holds a ','");
        return false;
    }
    return true;
}

/* An input term's labels, one per dim of its operand (rank r): the letters with the
 * ellipsis dims, labels ES_LETTERS + j for the last r_ell of the ell_rank ellipsis dims. */
static void es_expand(const EsTerm *t, int r, int ell_rank, int *labels) {
    const int r_ell = r - t->n_letters;
    int k = 0;
    for (int i = 0; i <= t->n_letters; i++) {
        if (i == t->ellipsis_at)
            for (int j = 0; j < r_ell; j++) labels[k++] = ES_LETTERS + ell_rank - r_ell + j;
        if (i < t->n_letters) labels[k++] = t->letters[i];
    }
}

/* The output's labels in order (*count of them); checks an explicit output term. */
static bool es_output_labels(const Node *n, const EsTerm *out, bool has_out,
                             const int *uses, int ell_rank, int *labels, int *count, Diag *d) {
    *count = 0;
    if (has_out) {
        bool seen[ES_MAX_LABELS] = { false };
        for (int i = 0; i <= out->n_letters; i++) {
            if (i == out->ellipsis_at)
                for (int j = 0; j < ell_rank; j++) labels[(*count)++] = ES_LETTERS + j;
            if (i == out->n_letters) break;
            const int l = out->letters[i];
            if (!uses[l] || seen[l]) {
                diag_error(d, n, "equation: output subscript '%c' %s", es_letter(l),
                           seen[l] ? "appears twice" : "is in no input term");
                return false;
            }
            seen[l] = true;
            labels[(*count)++] = l;
        }
        if (*count > IR_MAX_RANK) {
            diag_error(d, n, "equation: the output would have rank %d, more than %d", *count,
                       IR_MAX_RANK);
            return false;
        }
        return true;
    }
    for (int j = 0; j < ell_rank; j++) labels[(*count)++] = ES_LETTERS + j;
    /* letters used once, in ASCII order: upper case first */
    for (int pass = 0; pass < 2; pass++) {
        const int from = pass == 0 ? ES_LETTERS / 2 : 0;
        for (int l = from; l < from + ES_LETTERS / 2; l++) {
            if (uses[l] != 1) continue;
            if (*count == IR_MAX_RANK) {
                diag_error(d, n, "equation: the output would have more than %d dims",
                           IR_MAX_RANK);
                return false;
            }
            labels[(*count)++] = l;
        }
    }
    return true;
}

/* Sizes of the labels of input k, broadcasting ellipsis dims (size[l] -1: unset). */
static bool es_sizes(const Node *n, int k, const int *labels, int64_t *size, Diag *d) {
    const Value *x = n->inputs[k];
    for (int a = 0; a < x->rank; a++) {
        const int l = labels[a];
        const int64_t dim = x->dims[a];
        if (size[l] < 0 || (l >= ES_LETTERS && size[l] == 1)) size[l] = dim;
        else if (size[l] != dim && !(l >= ES_LETTERS && dim == 1)) {
            if (l >= ES_LETTERS)
                diag_error(d, n, "equation: the \"...\" dims of input %d do not broadcast with "
                           "the others (%lld vs %lld)", k, (long long)dim, (long long)size[l]);
            else
                diag_error(d, n, "equation: subscript '%c' has size %lld in input %d, %lld "
                           "elsewhere", es_letter(l), (long long)dim, k, (long long)size[l]);
            return false;
        }
    }
    return true;
}

static bool es_plan(const Node *n, EsPlan *p, Diag *d) {
    EsTerm in[ES_MAX_INPUTS], out;
    bool has_out;
    memset(p, 0, sizeof *p);
    p->n_inputs = n->n_inputs;
    if (!es_parse(n, in, &out, &has_out, d)) return false;
    int ell_rank = 0, uses[ES_MAX_LABELS] = { 0 };
    for (int k = 0; k < n->n_inputs; k++) {
        const int r = n->inputs[k]->rank;
        const bool ell = in[k].ellipsis_at >= 0;
        if (ell ? in[k].n_letters > r : in[k].n_letters != r) {
            diag_error(d, n, "equation: input term %d has %d subscripts%s for rank %d", k,
                       in[k].n_letters, ell ? " and \"...\"" : "", r);
            return false;
        }
        if (ell && r - in[k].n_letters > ell_rank) ell_rank = r - in[k].n_letters;
        for (int i = 0; i < in[k].n_letters; i++) uses[in[k].letters[i]]++;
    }
    for (int j = 0; j < ell_rank; j++) uses[ES_LETTERS + j] = 1;
    /* labels per input dim, and sizes */
    int labels[ES_MAX_INPUTS][IR_MAX_RANK];
    int64_t size[ES_MAX_LABELS];
    for (int l = 0; l < ES_MAX_LABELS; l++) size[l] = -1;
    for (int k = 0; k < n->n_inputs; k++) {
        es_expand(&in[k], n->inputs[k]->rank, ell_rank, labels[k]);
        if (!es_sizes(n, k, labels[k], size, d)) return false;
    }
    /* loops: the output's labels, then the other used ones */
    int order[ES_MAX_LABELS], loop_of[ES_MAX_LABELS];
    if (!es_output_labels(n, &out, has_out, uses, ell_rank, order, &p->n_out, d)) return false;
    p->n_loops = p->n_out;
    for (int l = 0; l < ES_MAX_LABELS; l++) loop_of[l] = -1;
    for (int i = 0; i < p->n_out; i++) loop_of[order[i]] = i;
    for (int l = 0; l < ES_MAX_LABELS; l++)
        if (uses[l] && loop_of[l] < 0) loop_of[l] = p->n_loops, order[p->n_loops++] = l;
    for (int i = 0; i < p->n_loops; i++) {
        p->size[i] = size[order[i]];
        p->names[i] = es_letter(order[i]);
    }
    /* strides: the output's row-major; each input's own, added up for repeated labels,
     * 0 for a broadcast ellipsis dim */
    p->out_rank = p->n_out;
    for (int i = 0; i < p->n_out; i++) p->out_dims[i] = p->size[i];
    int64_t st[IR_MAX_RANK];
    shape_strides(p->n_out, p->out_dims, st);
    for (int i = 0; i < p->n_out; i++) p->out_strides[i] = st[i];
    for (int k = 0; k < n->n_inputs; k++) {
        const Value *x = n->inputs[k];
        shape_strides(x->rank, x->dims, st);
        for (int a = 0; a < x->rank; a++) {
            const int loop = loop_of[labels[k][a]];
            if (x->dims[a] != 1 || p->size[loop] == 1) p->in_strides[k][loop] += st[a];
        }
    }
    return true;
}

static bool es_infer(Graph *g, Node *n, Diag *d) {
    (void)g;
    if (n->n_inputs > ES_MAX_INPUTS) {
        diag_error(d, n, "%d inputs; at most %d are supported", n->n_inputs, ES_MAX_INPUTS);
        return false;
    }
    for (int k = 0; k < n->n_inputs; k++) {
        if (!op_require_shape(n, k, d) || !ou_check_dtype(n, k, ou_numeric_types, d))
            return false;
        if (n->inputs[k]->dtype != n->inputs[0]->dtype) {
            diag_error(d, n, "input %d is %s, input 0 %s; they must have one type", k,
                       dtype_name(n->inputs[k]->dtype), dtype_name(n->inputs[0]->dtype));
            return false;
        }
    }
    EsPlan p;
    if (!es_plan(n, &p, d)) return false;
    return ou_set_output(n, n->outputs[0], n->inputs[0]->dtype, p.out_rank, p.out_dims, d);
}

/* Element offset of the loop position idx in an operand with these strides. */
static int64_t es_offset(const EsPlan *p, const int64_t *strides, const int64_t *idx) {
    int64_t off = 0;
    for (int i = 0; i < p->n_loops; i++) off += idx[i] * strides[i];
    return off;
}

/* Advances idx over loops [from, to) (odometer, last fastest); false once past the end. */
static bool es_next(const EsPlan *p, int64_t *idx, int from, int to) {
    for (int i = to - 1; i >= from; i--) {
        if (++idx[i] < p->size[i]) return true;
        idx[i] = 0;
    }
    return false;
}

static bool es_fold(Graph *g, Node *n, Diag *d) {
    Value *y = n->outputs[0];
    EsPlan p;
    if (!es_plan(n, &p, d)) return false;
    int64_t steps = 1;
    for (int i = 0; i < p.n_loops; i++)
        if (!i64_mul(steps, p.size[i], &steps) || steps > ES_FOLD_MAX_STEPS) {
            diag_error(d, n, "folding would compute more than %d products; constant inputs "
                       "this large are not supported", ES_FOLD_MAX_STEPS);
            return false;
        }
    if (!ir_value_alloc_data(g, y, d)) return false;
    const int64_t count = ir_numel(y);
    const bool fl = dtype_is_float(y->dtype);
    int64_t idx[ES_MAX_LABELS] = { 0 };
    bool inner_empty = false;
    for (int i = p.n_out; i < p.n_loops; i++) inner_empty |= p.size[i] == 0;
    for (int64_t o = 0; o < count; o++) {
        double acc = 0;
        uint64_t iacc = 0;
        for (int i = p.n_out; i < p.n_loops; i++) idx[i] = 0;
        for (bool more = !inner_empty; more; more = es_next(&p, idx, p.n_out, p.n_loops)) {
            double prod = 1;
            uint64_t iprod = 1;
            for (int k = 0; k < p.n_inputs; k++) {
                const int64_t at = es_offset(&p, p.in_strides[k], idx);
                if (fl) prod = k ? prod * ou_get_f64(n->inputs[k], at)
                                 : ou_get_f64(n->inputs[k], at);
                else iprod *= (uint64_t)ir_const_get_i64(n->inputs[k], at);
            }
            acc += prod;
            iacc += iprod;
        }
        if (!fl) ir_const_set_i64(y, o, (int64_t)iacc);
        else ou_set_f64(y, o, ou_is_half(y->dtype) ? (double)(float)acc : acc);
        es_next(&p, idx, 0, p.n_out);
    }
    return true;
}

static bool es_emit(Emitter *e, const Node *n, Diag *d) {
    if (ou_emit_if_empty(e, n)) return true;
    const Value *y = n->outputs[0];
    EsPlan p;
    if (!es_plan(n, &p, d)) return false;
    const DType t = y->dtype;
    const bool fl = dtype_is_float(t), half = ou_is_half(t);
    const Attr *eq = ir_attr(n, "equation");
    char sy[128], summed[ES_MAX_LABELS + 1] = "";
    for (int i = p.n_out; i < p.n_loops; i++) summed[i - p.n_out] = p.names[i];
    /* es_parse admits no character that could end the comment */
    emit_line(e, "/* Einsum \"%s\" -> %s; loops over the output's subscripts, then the "
              "summed ones (%s) */", eq->s, ou_shape(sy, sizeof sy, y),
              summed[0] ? summed : "none");
    for (int i = 0; i < p.n_loops; i++) {
        if (i == p.n_out) emit_line(e, fl ? "double acc = 0;" : "uint64_t acc = 0;");
        emit_open(e, "for (size_t l%d = 0; l%d < %lld; l%d++)", i, i, (long long)p.size[i], i);
    }
    if (p.n_out == p.n_loops) emit_line(e, fl ? "double acc = 0;" : "uint64_t acc = 0;");
    char term[ES_MAX_INPUTS * 40] = "", ix[256], src[300], name[16];
    for (int k = 0; k < p.n_inputs; k++) {
        ou_index_expr(ix, p.n_loops, p.in_strides[k], 0, "l");
        snprintf(src, sizeof src, "x%d[%s]", k, ix);
        snprintf(name, sizeof name, "a%d", k);
        if (half) ou_emit_half_load(e, t, name, src);
        else emit_line(e, "const %s %s = %s;", dtype_ctype(t), name, src);
        const size_t used = strlen(term);
        snprintf(term + used, sizeof term - used, "%s(%s)%s", k ? " * " : "",
                 fl ? "double" : "uint64_t", name);
    }
    emit_line(e, "acc += %s;", term);
    for (int i = p.n_out; i < p.n_loops; i++) emit_close(e);
    ou_index_expr(ix, p.n_out, p.out_strides, 0, "l");
    snprintf(src, sizeof src, "y0[%s]", ix);
    if (half) {
        emit_line(e, "const float r = (float)acc;");
        ou_emit_half_store(e, t, src, "r");
    } else {
        emit_line(e, "%s = (%s)acc;", src, dtype_ctype(t));
    }
    for (int i = 0; i < p.n_out; i++) emit_close(e);
    return true;
}

const OpDef op_einsum = {
    .name = "Einsum", .domain = "", .since = 12, .min_inputs = 1,
    .max_inputs = ES_MAX_INPUTS, .min_outputs = 1, .max_outputs = 1, .infer = es_infer,
    .fold = es_fold, .emit = es_emit, .memory = OP_MEMORY_SEPARATE,
};
