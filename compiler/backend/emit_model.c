/* emit_model.c: a planned graph as NAME.c and NAME.h.
 *
 * NAME.c holds, in this order: the weights (static const arrays, 64-byte aligned), one
 * static function per node (its body written by the op's emitter, see emitter.h), the
 * input/output descriptor tables and the entry points.  NAME_run_pool calls the node
 * functions in schedule order with pointers into the caller's buffers, the weights or the
 * workspace as the memory plan says, and hands its thread pool to the nodes whose kernels
 * take one; NAME_run is NAME_run_pool without a pool (one thread), and NAME_run_generic
 * and NAME_run_generic_pool take arrays of pointers.  Everything is derived from the
 * schedule and value ids, so the same graph always gives the same bytes.
 *
 * The weights are written by emit_weights.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "backend/emit_internal.h"
#include "backend/emitter.h"
#include "ops/op.h"
#include "passes/pass.h"

char *emit_xstrdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    if (p) memcpy(p, s, n);
    return p;
}

const char *emit_quote(char *buf, size_t size, const char *s) {
    return c_comment_text(buf, size, s, COMMENT_MAX);
}

/* ---- node functions ----------------------------------------------------------------- */

/* Does identifier `name` occur as a whole token in text? */
static bool uses_ident(const char *text, const char *name) {
    size_t len = strlen(name);
    for (const char *p = strstr(text, name); p; p = strstr(p + 1, name)) {
        bool start = p == text || !(p[-1] == '_' || (p[-1] >= '0' && p[-1] <= '9') ||
                                    (p[-1] >= 'a' && p[-1] <= 'z') ||
                                    (p[-1] >= 'A' && p[-1] <= 'Z'));
        char e = p[len];
        bool end = !(e == '_' || (e >= '0' && e <= '9') || (e >= 'a' && e <= 'z') ||
                     (e >= 'A' && e <= 'Z'));
        if (start && end) return true;
    }
    return false;
}

typedef struct Arg {
    char param[64];             /* "const float *x0" */
    const char *expr;           /* what NAME_run passes */
} Arg;

static void node_comment(StrBuf *c, const Node *n, int index) {
    char q[512], shape[256];
    sb_printf(c, "/* n%03d %s '%s'\n", index, n->op_type, emit_quote(q, sizeof q, n->name));
    for (int k = 0; k < n->n_inputs; k++) {
        const Value *v = n->inputs[k];
        if (!v) continue;
        sb_printf(c, " *   x%d '%s' %s%s\n", k, emit_quote(q, sizeof q, v->name),
                  ir_shape_str(shape, sizeof shape, v), v->data ? " (constant)" : "");
    }
    for (int k = 0; k < n->n_outputs; k++) {
        const Value *v = n->outputs[k];
        if (!v) continue;
        sb_printf(c, " *   y%d '%s' %s\n", k, emit_quote(q, sizeof q, v->name),
                  ir_shape_str(shape, sizeof shape, v));
    }
    if (n->fused) sb_printf(c, " *   fused: %s\n", c_comment_text(q, sizeof q, n->fused, 120));
    sb_puts(c, " */\n");
}

/* Emits node n's function into c and its call into run. */
static bool emit_node(Ctx *x, const Node *n, int index, const MemoryPlan *plan, StrBuf *c,
                      StrBuf *run) {
    const OpDef *op = n->op;
    Emitter e;
    emit_init(&e);
    e.indent = 1;
    if (!op->emit) {
        diag_error(x->d, n, "the C backend has no code for %s yet", n->op_type);
        emit_free(&e);
        return false;
    }
    /* Outputs with no element (a dimension of 0) leave nothing to compute, whatever the
     * op; the ops' loops would read `for (size_t i = 0; i < 0; i++)`, which gcc's
     * -Wtype-limits flags. */
    bool empty = n->n_outputs > 0;
    for (int k = 0; k < n->n_outputs; k++)
        if (n->outputs[k] && ir_numel(n->outputs[k]) != 0) empty = false;
    if (empty) {
        emit_line(&e, "/* every output is empty (0 elements): nothing to compute */");
    } else if (!op->emit(&e, n, x->d)) {
        emit_free(&e);
        return false;
    }
    if (e.out.failed) {
        diag_error(x->d, n, "out of memory emitting C");
        emit_free(&e);
        return false;
    }
    const char *body = e.out.data ? e.out.data : "";
    Arg args[64];
    int n_args = 0;
    for (int k = 0; k < n->n_inputs && n_args < 60; k++) {
        const Value *v = n->inputs[k];
        char nm[16];
        snprintf(nm, sizeof nm, "x%d", k);
        if (!v || !uses_ident(body, nm)) continue;
        snprintf(args[n_args].param, sizeof args[n_args].param, "const %s *%s",
                 dtype_ctype(v->dtype), nm);
        x->refs[v->id].used = true;
        args[n_args++].expr = x->refs[v->id].expr;
    }
    for (int k = 0; k < n->n_outputs && n_args < 62; k++) {
        const Value *v = n->outputs[k];
        char nm[16];
        snprintf(nm, sizeof nm, "y%d", k);
        if (!v || !uses_ident(body, nm)) continue;
        snprintf(args[n_args].param, sizeof args[n_args].param, "%s *%s",
                 dtype_ctype(v->dtype), nm);
        args[n_args++].expr = x->refs[v->id].expr;
    }
    char scratch_expr[64];
    if (uses_ident(body, "scratch")) {
        snprintf(args[n_args].param, sizeof args[n_args].param, "unsigned char *scratch");
        size_t bytes = op->scratch_bytes ? op->scratch_bytes(n) : 0;
        if (bytes == 0)
            snprintf(scratch_expr, sizeof scratch_expr, "NULL");
        else
            snprintf(scratch_expr, sizeof scratch_expr, "ws + %zu", plan->scratch_offset[index]);
        args[n_args++].expr = scratch_expr;
    }
    /* The kernels that take a thread pool get the entry point's (NULL: one thread). */
    if (uses_ident(body, "pool")) {
        snprintf(args[n_args].param, sizeof args[n_args].param, "OnnxccPool *pool");
        args[n_args++].expr = "pool";
    }
    for (int k = 0; k < n_args; k++) {
        if (!args[k].expr) BUG("node %d argument %d has no storage", index, k);
    }

    char frag[C_FRAGMENT_MAX + 1], fname[80];
    c_name_sanitize(n->name[0] ? n->name : n->op_type, frag, C_FRAGMENT_MAX);
    snprintf(fname, sizeof fname, "n%03d_%s", index, frag);
    node_comment(c, n, index);
    sb_printf(c, "static %s %s(", op->may_fail ? "int" : "void", fname);
    for (int k = 0; k < n_args; k++) sb_printf(c, "%s%s", k ? ", " : "", args[k].param);
    sb_puts(c, n_args ? ")\n{\n" : "void)\n{\n");
    sb_puts(c, body);
    if (op->may_fail) sb_puts(c, "    return 0;\n");
    sb_puts(c, "}\n\n");

    sb_puts(run, op->may_fail ? "    if (" : "    ");
    sb_printf(run, "%s(", fname);
    for (int k = 0; k < n_args; k++) sb_printf(run, "%s%s", k ? ", " : "", args[k].expr);
    sb_puts(run, op->may_fail ? ")) return 1;\n" : ");\n");
    emit_free(&e);
    return true;
}

/* ---- entry points and header -------------------------------------------------------- */

/* Parameter names: in_/out_ + the sanitised ONNX name, made unique by a numeric suffix. */
static char **param_names(const Graph *g, Value **list, int count, const char *prefix) {
    char **names = calloc((size_t)(count > 0 ? count : 1), sizeof *names);
    if (!names) return NULL;
    (void)g;
    for (int i = 0; i < count; i++) {
        char frag[C_FRAGMENT_MAX + 1], buf[96];
        c_name_sanitize(list[i]->name, frag, C_FRAGMENT_MAX);
        snprintf(buf, sizeof buf, "%s%s", prefix, frag);
        for (int j = 0, suffix = 2; j < i; j++) {
            if (strcmp(names[j], buf) == 0) {
                snprintf(buf, sizeof buf, "%s%s_%d", prefix, frag, suffix++);
                j = -1;   /* check the new name against all again */
            }
        }
        names[i] = emit_xstrdup(buf);
        if (!names[i]) return names;
    }
    return names;
}

/* The typed entry point's prototype: NAME_run, or with_pool NAME_run_pool. */
static void emit_prototype(StrBuf *s, const Ctx *x, const char *name, bool with_pool) {
    const Graph *g = x->g;
    sb_printf(s, "int %s_run%s(", name, with_pool ? "_pool" : "");
    for (int i = 0; i < g->n_inputs; i++)
        sb_printf(s, "const %s *%s, ", dtype_ctype(g->inputs[i]->dtype), x->in_params[i]);
    for (int i = 0; i < g->n_outputs; i++)
        sb_printf(s, "%s *%s, ", dtype_ctype(g->outputs[i]->dtype), x->out_params[i]);
    sb_puts(s, with_pool ? "void *workspace, struct OnnxccPool *pool)" : "void *workspace)");
}

/* The generic entry point's prototype: NAME_run_generic, or with_pool ..._generic_pool. */
static void emit_generic_prototype(StrBuf *s, const char *name, bool with_pool) {
    sb_printf(s, "int %s_run_generic%s(const void *const *inputs, void *const *outputs, "
              "void *workspace%s)", name, with_pool ? "_pool" : "",
              with_pool ? ", struct OnnxccPool *pool" : "");
}

static void emit_descs(StrBuf *c, const char *table, Value **list, int count) {
    char q[512];
    sb_printf(c, "const onnxcc_tensor_desc %s[%d] = {\n", table, count > 0 ? count : 1);
    for (int i = 0; i < count; i++) {
        const Value *v = list[i];
        /* The name is a string literal: the comment-safe text is also string-safe. */
        sb_printf(c, "    {\"%s\", %d, \"%s\", %d, {", c_comment_text(q, sizeof q, v->name, 120),
                  (int)v->dtype, dtype_name(v->dtype), v->rank);
        for (int k = 0; k < v->rank; k++) sb_printf(c, "%s%lld", k ? ", " : "", (long long)v->dims[k]);
        if (v->rank == 0) sb_puts(c, "0");
        sb_printf(c, "}, %lld, %zu},\n", (long long)ir_numel(v), ir_nbytes(v));
    }
    if (count == 0) sb_puts(c, "    {\"\", 0, \"\", 0, {0}, 0, 0},\n");
    sb_puts(c, "};\n\n");
}

static void emit_header(const Ctx *x, StrBuf *h, size_t ws_bytes) {
    const Graph *g = x->g;
    const char *name = x->opt->name;
    char q[512], shape[256];
    sb_printf(h, "/* %s.h: generated by onnxcc %s from %s; do not edit.\n", name, ONNXCC_VERSION,
              emit_quote(q, sizeof q, x->opt->model_file ? x->opt->model_file : "?"));
    sb_puts(h, " *\n * Inputs:\n");
    for (int i = 0; i < g->n_inputs; i++)
        sb_printf(h, " *   %s  '%s' %s\n", x->in_params[i], emit_quote(q, sizeof q, g->inputs[i]->name),
                  ir_shape_str(shape, sizeof shape, g->inputs[i]));
    sb_puts(h, " * Outputs:\n");
    for (int i = 0; i < g->n_outputs; i++)
        sb_printf(h, " *   %s  '%s' %s\n", x->out_params[i],
                  emit_quote(q, sizeof q, g->outputs[i]->name),
                  ir_shape_str(shape, sizeof shape, g->outputs[i]));
    sb_printf(h, " *\n * %s_run() returns 0 on success.  It allocates nothing and keeps no state:\n"
              " * every intermediate lives in `workspace`, %s_WORKSPACE_BYTES bytes of any\n"
              " * alignment, which only one call may use at a time.  %s_run_pool() is the\n"
              " * same on the threads of a pool from onnxcc_pool_create() (onnxcc_threads.h;\n"
              " * NULL: one thread), with the same workspace and bitwise the same outputs.\n"
              " */\n", name, name, name);
    sb_printf(h, "#ifndef %s_H\n#define %s_H\n\n", name, name);
    sb_puts(h, "#include <stdbool.h>\n#include <stddef.h>\n#include <stdint.h>\n\n");
    sb_puts(h, "#ifdef __cplusplus\nextern \"C\" {\n#endif\n\n");
    sb_printf(h, "#define %s_WORKSPACE_BYTES %zu\n", name, ws_bytes);
    sb_printf(h, "#define %s_NUM_INPUTS %d\n#define %s_NUM_OUTPUTS %d\n\n", name, g->n_inputs,
              name, g->n_outputs);
    sb_puts(h, "#ifndef ONNXCC_TENSOR_DESC_DEFINED\n#define ONNXCC_TENSOR_DESC_DEFINED\n"
            "/* One input or output of a generated model. */\n"
            "typedef struct onnxcc_tensor_desc {\n"
            "    const char *name;           /* ONNX name (non-printable bytes as \\xHH) */\n"
            "    int elem_type;              /* ONNX TensorProto.DataType: 1 float, 7 int64... */\n"
            "    const char *elem_type_name; /* \"float\", \"int64\", ... */\n"
            "    int rank;\n"
            "    int64_t dims[8];\n"
            "    int64_t numel;              /* elements */\n"
            "    size_t nbytes;              /* bytes of the buffer */\n"
            "} onnxcc_tensor_desc;\n#endif\n\n");
    sb_printf(h, "extern const onnxcc_tensor_desc %s_inputs[%d];\n", name,
              g->n_inputs > 0 ? g->n_inputs : 1);
    sb_printf(h, "extern const onnxcc_tensor_desc %s_outputs[%d];\n\n", name,
              g->n_outputs > 0 ? g->n_outputs : 1);
    sb_puts(h, "/* Runs the model: inputs, then outputs, then the workspace. */\n");
    emit_prototype(h, x, name, false);
    sb_puts(h, ";\n\n/* The same with arrays of pointers, in the order of the tables above. */\n");
    emit_generic_prototype(h, name, false);
    sb_puts(h, ";\n\n/* The thread pool (onnxcc_threads.h); only pointers to it are used here. */\n"
            "struct OnnxccPool;\n\n/* Both again with the threads of `pool` (NULL: one thread). */\n");
    emit_prototype(h, x, name, true);
    sb_puts(h, ";\n");
    emit_generic_prototype(h, name, true);
    sb_puts(h, ";\n\n");
    emit_weights_header(x, h);
    sb_printf(h, "#ifdef __cplusplus\n}\n#endif\n\n#endif /* %s_H */\n", name);
}

/* NAME_run, NAME_run_generic_pool and NAME_run_generic, which all call NAME_run_pool. */
static void emit_entry_wrappers(StrBuf *c, const Ctx *x) {
    const Graph *g = x->g;
    const char *name = x->opt->name;
    emit_prototype(c, x, name, false);
    sb_printf(c, "\n{\n    return %s_run_pool(", name);
    for (int i = 0; i < g->n_inputs; i++) sb_printf(c, "%s, ", x->in_params[i]);
    for (int i = 0; i < g->n_outputs; i++) sb_printf(c, "%s, ", x->out_params[i]);
    sb_puts(c, "workspace, NULL);\n}\n\n");

    emit_generic_prototype(c, name, true);
    sb_puts(c, "\n{\n");
    if (g->n_inputs == 0) sb_puts(c, "    (void)inputs;\n");
    sb_printf(c, "    return %s_run_pool(", name);
    for (int i = 0; i < g->n_inputs; i++)
        sb_printf(c, "(const %s *)inputs[%d], ", dtype_ctype(g->inputs[i]->dtype), i);
    for (int i = 0; i < g->n_outputs; i++)
        sb_printf(c, "(%s *)outputs[%d], ", dtype_ctype(g->outputs[i]->dtype), i);
    sb_puts(c, "workspace, pool);\n}\n\n");

    emit_generic_prototype(c, name, false);
    sb_printf(c, "\n{\n    return %s_run_generic_pool(inputs, outputs, workspace, NULL);\n}\n",
              name);
}

/* Pointer expressions for graph inputs, outputs and workspace values (tN, declared by
 * emit_locals once the calls are known). */
static bool assign_refs(Ctx *x) {
    const Graph *g = x->g;
    for (int i = 0; i < g->n_inputs; i++) {
        Value *v = g->inputs[i];
        if (!x->refs[v->id].expr) x->refs[v->id].expr = emit_xstrdup(x->in_params[i]);
    }
    for (int i = 0; i < g->n_outputs; i++) {
        Value *v = g->outputs[i];
        if (v->storage == STORAGE_OUTPUT && !x->refs[v->id].expr)
            x->refs[v->id].expr = emit_xstrdup(x->out_params[i]);
    }
    for (int i = 0; i < g->n_nodes; i++) {
        const Node *n = g->nodes[i];
        for (int k = 0; k < n->n_outputs; k++) {
            Value *v = n->outputs[k];
            if (!v || x->refs[v->id].expr) continue;
            if (v->storage != STORAGE_WORKSPACE) {
                diag_error(x->d, n, "internal error: output '%s' has no planned storage",
                           v->name);
                return false;
            }
            char buf[64];
            snprintf(buf, sizeof buf, "t%d", v->id);
            x->refs[v->id].expr = emit_xstrdup(buf);
        }
    }
    return true;
}

/* The entry point's locals: each workspace value that a call in `run` passes (an empty
 * value that no node reads or writes is not declared: it would be an unused variable). */
static void emit_locals(const Ctx *x, const char *run, StrBuf *locals) {
    const Graph *g = x->g;
    char q[512], shape[256], name[64];
    for (int i = 0; i < g->n_nodes; i++) {
        const Node *n = g->nodes[i];
        for (int k = 0; k < n->n_outputs; k++) {
            const Value *v = n->outputs[k];
            if (!v || v->storage != STORAGE_WORKSPACE) continue;
            snprintf(name, sizeof name, "t%d", v->id);
            if (strcmp(x->refs[v->id].expr, name) != 0 || !uses_ident(run, name)) continue;
            sb_printf(locals, "    %s *const t%d = (%s *)(void *)(ws + %zu); /* '%s' %s */\n",
                      dtype_ctype(v->dtype), v->id, dtype_ctype(v->dtype), v->ws_offset,
                      emit_quote(q, sizeof q, v->name), ir_shape_str(shape, sizeof shape, v));
        }
    }
}

bool backend_emit(const Graph *g, const BackendOptions *opt, StrBuf *c, StrBuf *h, Diag *d) {
    const MemoryPlan *plan = plan_get(g);
    if (!plan) BUG("backend_emit on a graph without a memory plan");
    Ctx x = {.g = g, .opt = opt, .d = d};
    bool ok = false;
    StrBuf run, locals, nodes;
    sb_init(&run);
    sb_init(&locals);
    sb_init(&nodes);
    x.refs = calloc((size_t)g->n_values + 1, sizeof *x.refs);
    x.in_params = param_names(g, g->inputs, g->n_inputs, "in_");
    x.out_params = param_names(g, g->outputs, g->n_outputs, "out_");
    if (!x.refs || !x.in_params || !x.out_params) {
        diag_error(d, NULL, "out of memory emitting C");
        goto done;
    }
    for (int i = 0; i < g->n_inputs; i++) if (!x.in_params[i]) goto done;
    for (int i = 0; i < g->n_outputs; i++) if (!x.out_params[i]) goto done;
    /* Constants are emitted if a node function or the entry point uses them. */
    for (int i = 0; i < g->n_outputs; i++) x.refs[g->outputs[i]->id].used = true;

    char q[512];
    sb_printf(c, "/* %s.c: generated by onnxcc %s from %s; do not edit.\n", opt->name,
              ONNXCC_VERSION, emit_quote(q, sizeof q, opt->model_file ? opt->model_file : "?"));
    if (g->producer && g->producer[0])
        sb_printf(c, " * Model producer: %s, opset %d.\n", emit_quote(q, sizeof q, g->producer),
                  g->opset);
    if (opt->options_text && opt->options_text[0])
        sb_printf(c, " * Options: %s\n", emit_quote(q, sizeof q, opt->options_text));
    sb_puts(c, " */\n");
    sb_printf(c, "#include \"%s.h\"\n\n", opt->name);
    sb_puts(c, "#include <math.h>\n#include <stdbool.h>\n#include <stddef.h>\n"
            "#include <stdint.h>\n#include <string.h>\n\n#include \"onnxcc_rt.h\"\n\n");
    sb_puts(c, "#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__\n"
            "#error \"the weights below are stored little-endian\"\n#endif\n\n");
    if (!emit_name_weights(&x) || !assign_refs(&x)) goto done;
    sb_puts(&nodes, "/* ---- nodes, in schedule order ---- */\n\n");
    for (int i = 0; i < g->n_nodes; i++)
        if (!emit_node(&x, g->nodes[i], i, plan, &nodes, &run)) goto done;
    emit_locals(&x, run.data ? run.data : "", &locals);
    if (!emit_weights(&x, c)) goto done;
    sb_putn(c, nodes.data ? nodes.data : "", nodes.len);

    size_t ws_bytes = plan->workspace_bytes + 64;
    char table[128];
    snprintf(table, sizeof table, "%s_inputs", opt->name);
    emit_descs(c, table, g->inputs, g->n_inputs);
    snprintf(table, sizeof table, "%s_outputs", opt->name);
    emit_descs(c, table, g->outputs, g->n_outputs);

    emit_prototype(c, &x, opt->name, true);
    sb_puts(c, "\n{\n");
    emit_weights_run_check(&x, c);   /* the other entry points all call this one */
    if (!uses_ident(run.data ? run.data : "", "pool"))
        sb_puts(c, "    (void)pool; /* no kernel of this model uses threads */\n");
    bool uses_ws = locals.len > 0 || strstr(run.data ? run.data : "", "ws + ");
    if (uses_ws)
        sb_puts(c, "    /* Every intermediate is a slice of the workspace, aligned to 64. */\n"
                "    unsigned char *const ws = (unsigned char *)workspace +\n"
                "        (64u - (unsigned)((uintptr_t)workspace % 64u)) % 64u;\n");
    else
        sb_puts(c, "    (void)workspace;\n");
    /* Outputs the nodes did not write into the caller's buffer: constants, inputs, and a
     * value listed twice as an output. */
    for (int i = 0; i < g->n_outputs; i++) {
        const Value *v = g->outputs[i];
        if (strcmp(x.refs[v->id].expr, x.out_params[i]) == 0) continue;
        sb_printf(&run, "    memcpy(%s, %s, %zu);\n", x.out_params[i], x.refs[v->id].expr,
                  ir_nbytes(v));
    }
    /* An input no node reads, or an empty output no node writes, is still a parameter of
     * the typed entry point. */
    for (int i = 0; i < g->n_inputs; i++)
        if (!uses_ident(run.data ? run.data : "", x.in_params[i]))
            sb_printf(c, "    (void)%s; /* not read by the model */\n", x.in_params[i]);
    for (int i = 0; i < g->n_outputs; i++)
        if (!uses_ident(run.data ? run.data : "", x.out_params[i]))
            sb_printf(c, "    (void)%s; /* empty: nothing to write */\n", x.out_params[i]);
    sb_putn(c, locals.data ? locals.data : "", locals.len);
    if (locals.len) sb_putc(c, '\n');
    sb_putn(c, run.data ? run.data : "", run.len);
    sb_puts(c, "    return 0;\n}\n\n");
    emit_entry_wrappers(c, &x);

    emit_header(&x, h, ws_bytes);
    if (c->failed || h->failed) {
        diag_error(d, NULL, "out of memory emitting C");
        goto done;
    }
    ok = true;
done:
    if (x.refs)
        for (int i = 0; i < g->n_values; i++) free(x.refs[i].expr);
    free(x.refs);
    for (int i = 0; x.in_params && i < g->n_inputs; i++) free(x.in_params[i]);
    for (int i = 0; x.out_params && i < g->n_outputs; i++) free(x.out_params[i]);
    free(x.in_params);
    free(x.out_params);
    sb_free(&run);
    sb_free(&locals);
    sb_free(&nodes);
    return ok;
}
