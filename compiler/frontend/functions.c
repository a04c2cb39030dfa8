/* functions.c: model-local functions (ModelProto.functions) inlined before conversion.
 *
 * PyTorch's dynamo exporter, and others, write part of a model as FunctionProtos that the
 * graph's nodes call like ops (matched by domain, name and overload).  Here every call is
 * replaced by the function's nodes, recursively, before onnx_to_ir sees the model, so the
 * rest of the compiler only ever meets plain nodes.  For each call:
 *   - a formal input takes the name of the call's actual input ("" where the call leaves
 *     it out), a formal output the call's output name (a name of its own if the call does
 *     not use it);
 *   - every other name of the body (its values, and the nodes' names) is prefixed with
 *     the call's node name and a call number ("block1#3/val_2"), so that error messages
 *     and the C comments still say where a node came from;
 *   - an attribute that refers to the function's parameter (ref_attr_name) takes the
 *     call's attribute of that name, else the function's default, else is left out;
 *   - a body node's graph attribute (an If inside a function) is renamed the same way,
 *     all of it: names the subgraph defines get the prefix, names it reads from the
 *     function get their mapped names.
 * Only the messages built here are new; the rest is shallow copies of the unpacked model
 * that point into it, held in an arena that the caller frees after the conversion.
 * Limits: calls nested 16 deep at most (a function calling itself is a cycle) and
 * 1,000,000 inlined nodes in all.  A function's opset imports must agree with the
 * model's on every domain both import; domains only the function imports are added.
 */
#include <stdio.h>
#include <string.h>

#include "base/arena.h"
#include "frontend/tensor_data.h"

enum { FN_MAX_DEPTH = 16, FN_MAX_NODES = 1000000 };

typedef struct Inliner {
    const Onnx__ModelProto *m;
    Arena *a;
    Diag *d;
    size_t calls;               /* calls inlined so far: numbers the prefixes */
    size_t nodes;               /* nodes made so far, against FN_MAX_NODES */
} Inliner;

/* The names a call's body is renamed with. */
typedef struct Renaming {
    const Onnx__FunctionProto *f;
    const Onnx__NodeProto *call;
    const char *prefix;         /* "callname#k/" */
    Inliner *in;
} Renaming;

static const char *str_or_empty(const char *s) { return s ? s : ""; }

static bool same_domain(const char *a, const char *b) {
    a = str_or_empty(a);
    b = str_or_empty(b);
    if (strcmp(a, "ai.onnx") == 0) a = "";
    if (strcmp(b, "ai.onnx") == 0) b = "";
    return strcmp(a, b) == 0;
}

static bool oom(Inliner *in) {
    diag_error(in->d, NULL, "out of memory while inlining the model's functions");
    return false;
}

static const Onnx__FunctionProto *find_function(const Onnx__ModelProto *m,
                                                const Onnx__NodeProto *np) {
    for (size_t i = 0; i < m->n_functions; i++) {
        const Onnx__FunctionProto *f = m->functions[i];
        if (f && f->name && np->op_type && strcmp(f->name, np->op_type) == 0 &&
            same_domain(f->domain, np->domain) &&
            strcmp(str_or_empty(f->overload), str_or_empty(np->overload)) == 0)
            return f;
    }
    return NULL;
}

/* The new name of `name` inside a call's body. */
static char *rename_value(const Renaming *r, const char *name) {
    name = str_or_empty(name);
    if (!*name) return (char *)"";               /* an absent optional stays absent */
    for (size_t i = 0; i < r->f->n_input; i++)
        if (r->f->input[i] && strcmp(r->f->input[i], name) == 0)
            return i < r->call->n_input ? (char *)str_or_empty(r->call->input[i]) : (char *)"";
    for (size_t i = 0; i < r->f->n_output; i++)
        if (r->f->output[i] && strcmp(r->f->output[i], name) == 0 && i < r->call->n_output &&
            r->call->output[i] && r->call->output[i][0])
            return r->call->output[i];
    return arena_printf(r->in->a, "%s%s", r->prefix, name);
}

static char **rename_list(const Renaming *r, char *const *names, size_t n) {
    char **out = arena_array(r->in->a, n ? n : 1, sizeof *out);
    if (!out) return NULL;
    for (size_t i = 0; i < n; i++)
        if (!(out[i] = rename_value(r, names[i]))) return NULL;
    return out;
}

static Onnx__GraphProto *rename_graph(const Renaming *r, const Onnx__GraphProto *gp, int depth);

/* A copy of the attribute with its subgraphs renamed (other attributes are kept). */
static Onnx__AttributeProto *rename_attr_graphs(const Renaming *r, Onnx__AttributeProto *ap,
                                                int depth) {
    if (!ap->g && ap->n_graphs == 0) return ap;
    Onnx__AttributeProto *c = arena_alloc(r->in->a, sizeof *c);
    if (!c) return NULL;
    *c = *ap;
    if (ap->g && !(c->g = rename_graph(r, ap->g, depth + 1))) return NULL;
    if (ap->n_graphs) {
        c->graphs = arena_array(r->in->a, ap->n_graphs, sizeof *c->graphs);
        if (!c->graphs) return NULL;
        for (size_t i = 0; i < ap->n_graphs; i++)
            if (!(c->graphs[i] = rename_graph(r, ap->graphs[i], depth + 1))) return NULL;
    }
    return c;
}

static Onnx__ValueInfoProto **rename_infos(const Renaming *r, Onnx__ValueInfoProto *const *vi,
                                           size_t n) {
    Onnx__ValueInfoProto **out = arena_array(r->in->a, n ? n : 1, sizeof *out);
    if (!out) return NULL;
    for (size_t i = 0; i < n; i++) {
        if (!vi[i]) continue;
        if (!(out[i] = arena_alloc(r->in->a, sizeof *out[i]))) return NULL;
        *out[i] = *vi[i];
        if (!(out[i]->name = rename_value(r, vi[i]->name))) return NULL;
    }
    return out;
}

/* Every name of a body's subgraph renamed (see the top of the file). */
static Onnx__GraphProto *rename_graph(const Renaming *r, const Onnx__GraphProto *gp, int depth) {
    if (depth > IR_MAX_SUBGRAPH_DEPTH) {
        diag_error(r->in->d, NULL, "function '%s': subgraphs nested more than %d deep",
                   str_or_empty(r->f->name), (int)IR_MAX_SUBGRAPH_DEPTH);
        return NULL;
    }
    Arena *a = r->in->a;
    Onnx__GraphProto *c = arena_alloc(a, sizeof *c);
    if (!c) return NULL;
    *c = *gp;
    if (!(c->input = rename_infos(r, gp->input, gp->n_input)) ||
        !(c->output = rename_infos(r, gp->output, gp->n_output)) ||
        !(c->value_info = rename_infos(r, gp->value_info, gp->n_value_info)))
        return NULL;
    c->initializer = arena_array(a, gp->n_initializer ? gp->n_initializer : 1,
                                 sizeof *c->initializer);
    if (!c->initializer) return NULL;
    for (size_t i = 0; i < gp->n_initializer; i++) {
        if (!gp->initializer[i]) continue;
        if (!(c->initializer[i] = arena_alloc(a, sizeof *c->initializer[i]))) return NULL;
        *c->initializer[i] = *gp->initializer[i];
        c->initializer[i]->name = rename_value(r, gp->initializer[i]->name);
        if (!c->initializer[i]->name) return NULL;
    }
    c->node = arena_array(a, gp->n_node ? gp->n_node : 1, sizeof *c->node);
    if (!c->node) return NULL;
    for (size_t i = 0; i < gp->n_node; i++) {
        const Onnx__NodeProto *np = gp->node[i];
        if (!np) continue;
        Onnx__NodeProto *n = arena_alloc(a, sizeof *n);
        if (!n) return NULL;
        *n = *np;
        n->name = arena_printf(a, "%s%s", r->prefix, str_or_empty(np->name));
        n->input = rename_list(r, np->input, np->n_input);
        n->output = rename_list(r, np->output, np->n_output);
        n->attribute = arena_array(a, np->n_attribute ? np->n_attribute : 1,
                                   sizeof *n->attribute);
        if (!n->name || !n->input || !n->output || !n->attribute) return NULL;
        for (size_t k = 0; k < np->n_attribute; k++)
            if (np->attribute[k] &&
                !(n->attribute[k] = rename_attr_graphs(r, np->attribute[k], depth)))
                return NULL;
        c->node[i] = n;
    }
    return c;
}

/* The attribute a body node gets for `ap`: itself, or, when it refers to a parameter of
 * the function, the call's value or the function's default under ap's name; NULL with
 * *absent set when neither gives one. */
static Onnx__AttributeProto *bind_attr(const Renaming *r, Onnx__AttributeProto *ap,
                                       bool *absent) {
    *absent = false;
    if (!ap->ref_attr_name || !ap->ref_attr_name[0]) return ap;
    const Onnx__AttributeProto *from = NULL;
    for (size_t i = 0; !from && i < r->call->n_attribute; i++)
        if (r->call->attribute[i] && r->call->attribute[i]->name &&
            strcmp(r->call->attribute[i]->name, ap->ref_attr_name) == 0)
            from = r->call->attribute[i];
    for (size_t i = 0; !from && i < r->f->n_attribute_proto; i++)
        if (r->f->attribute_proto[i] && r->f->attribute_proto[i]->name &&
            strcmp(r->f->attribute_proto[i]->name, ap->ref_attr_name) == 0)
            from = r->f->attribute_proto[i];
    if (!from) {
        *absent = true;
        return NULL;
    }
    Onnx__AttributeProto *c = arena_alloc(r->in->a, sizeof *c);
    if (!c) return NULL;
    *c = *from;
    c->name = ap->name;
    c->ref_attr_name = NULL;
    return c;
}

static bool inline_nodes(Inliner *in, Onnx__NodeProto *const *nodes, size_t n, int depth,
                         Onnx__NodeProto ***out, size_t *n_out, size_t *cap);

static bool push_node(Inliner *in, Onnx__NodeProto *np, Onnx__NodeProto ***out, size_t *n_out,
                      size_t *cap) {
    if (++in->nodes > FN_MAX_NODES) {
        diag_error(in->d, NULL, "inlining the model's functions makes more than %d nodes",
                   (int)FN_MAX_NODES);
        return false;
    }
    if (*n_out == *cap) {
        size_t grown = *cap ? *cap * 2 : 64;
        Onnx__NodeProto **bigger = arena_grow(in->a, *out, *n_out, grown, sizeof **out);
        if (!bigger) return oom(in);
        *out = bigger;
        *cap = grown;
    }
    (*out)[(*n_out)++] = np;
    return true;
}

/* The call's body, renamed, appended to out (its own calls inlined in turn). */
static bool expand_call(Inliner *in, const Onnx__FunctionProto *f, const Onnx__NodeProto *call,
                        int depth, Onnx__NodeProto ***out, size_t *n_out, size_t *cap) {
    char q[200];
    if (depth >= FN_MAX_DEPTH) {
        diag_error(in->d, NULL, "function '%s' is called through more than %d nested calls "
                   "(a function that calls itself?)",
                   diag_quote(q, sizeof q, str_or_empty(f->name)), (int)FN_MAX_DEPTH);
        return false;
    }
    if (call->n_input > f->n_input || call->n_output > f->n_output) {
        diag_error(in->d, NULL, "node '%s' calls function '%s' with %zu input(s) and %zu "
                   "output(s), more than its %zu and %zu",
                   diag_quote(q, sizeof q, str_or_empty(call->name)), str_or_empty(f->name),
                   call->n_input, call->n_output, f->n_input, f->n_output);
        return false;
    }
    Renaming r = { .f = f, .call = call, .in = in };
    const char *who = call->name && call->name[0] ? call->name : str_or_empty(f->name);
    r.prefix = arena_printf(in->a, "%s#%zu/", who, ++in->calls);
    if (!r.prefix) return oom(in);
    /* The body as a graph of its own, renamed; then its nodes, with attributes bound. */
    Onnx__GraphProto body = ONNX__GRAPH_PROTO__INIT;
    body.n_node = f->n_node;
    body.node = f->node;
    const int errors_before = in->d->n_errors;
    Onnx__GraphProto *renamed = rename_graph(&r, &body, 0);
    if (!renamed) return in->d->n_errors > errors_before ? false : oom(in);
    for (size_t i = 0; i < renamed->n_node; i++) {
        Onnx__NodeProto *n = renamed->node[i];
        if (!n) continue;
        size_t kept = 0;
        for (size_t k = 0; k < n->n_attribute; k++) {
            bool absent;
            Onnx__AttributeProto *ap = n->attribute[k];
            if (!ap) continue;
            Onnx__AttributeProto *bound = bind_attr(&r, ap, &absent);
            if (!bound && !absent) return oom(in);
            if (bound) n->attribute[kept++] = bound;
        }
        n->n_attribute = kept;
    }
    return inline_nodes(in, renamed->node, renamed->n_node, depth + 1, out, n_out, cap);
}

/* nodes with every call of a local function replaced by its body, appended to out. */
static bool inline_nodes(Inliner *in, Onnx__NodeProto *const *nodes, size_t n, int depth,
                         Onnx__NodeProto ***out, size_t *n_out, size_t *cap) {
    for (size_t i = 0; i < n; i++) {
        if (!nodes[i]) continue;
        const Onnx__FunctionProto *f = find_function(in->m, nodes[i]);
        if (!f) {
            if (!push_node(in, nodes[i], out, n_out, cap)) return false;
        } else if (!expand_call(in, f, nodes[i], depth, out, n_out, cap)) {
            return false;
        }
    }
    return true;
}

/* Adds the functions' opset imports to the model's, refusing a disagreement. */
static bool merge_opsets(Inliner *in, Onnx__ModelProto *m2) {
    const Onnx__ModelProto *m = in->m;
    size_t cap = m->n_opset_import;
    for (size_t i = 0; i < m->n_functions; i++)
        if (m->functions[i]) cap += m->functions[i]->n_opset_import;
    Onnx__OperatorSetIdProto **ops = arena_array(in->a, cap ? cap : 1, sizeof *ops);
    if (!ops) return oom(in);
    size_t n = 0;
    for (size_t i = 0; i < m->n_opset_import; i++)
        if (m->opset_import[i]) ops[n++] = m->opset_import[i];
    for (size_t i = 0; i < m->n_functions; i++) {
        const Onnx__FunctionProto *f = m->functions[i];
        if (!f) continue;
        for (size_t k = 0; k < f->n_opset_import; k++) {
            Onnx__OperatorSetIdProto *o = f->opset_import[k];
            if (!o) continue;
            size_t j = 0;
            while (j < n && !same_domain(ops[j]->domain, o->domain)) j++;
            if (j == n) {
                ops[n++] = o;
            } else if (ops[j]->version != o->version) {
                char q[200];
                diag_error(in->d, NULL, "function '%s' imports version %lld of domain '%s', "
                           "but the model imports version %lld: not supported",
                           diag_quote(q, sizeof q, str_or_empty(f->name)),
                           (long long)o->version, str_or_empty(o->domain),
                           (long long)ops[j]->version);
                return false;
            }
        }
    }
    m2->opset_import = ops;
    m2->n_opset_import = n;
    return true;
}

/* Inlines the graph's nodes (and, through its nodes' graph attributes, the subgraphs'). */
static Onnx__GraphProto *inline_graph(Inliner *in, const Onnx__GraphProto *gp, int depth);

static bool inline_attr_graphs(Inliner *in, Onnx__NodeProto **np, int depth) {
    Onnx__NodeProto *n = *np;
    bool copied = false;
    for (size_t k = 0; k < n->n_attribute; k++) {
        Onnx__AttributeProto *ap = n->attribute[k];
        if (!ap || (!ap->g && ap->n_graphs == 0)) continue;
        if (!copied) {
            Onnx__NodeProto *c = arena_alloc(in->a, sizeof *c);
            Onnx__AttributeProto **attrs = arena_array(in->a, n->n_attribute, sizeof *attrs);
            if (!c || !attrs) return oom(in);
            *c = *n;
            memcpy(attrs, n->attribute, n->n_attribute * sizeof *attrs);
            c->attribute = attrs;
            *np = n = c;
            copied = true;
        }
        Onnx__AttributeProto *c = arena_alloc(in->a, sizeof *c);
        if (!c) return oom(in);
        *c = *ap;
        if (ap->g && !(c->g = inline_graph(in, ap->g, depth + 1))) return false;
        if (ap->n_graphs) {
            c->graphs = arena_array(in->a, ap->n_graphs, sizeof *c->graphs);
            if (!c->graphs) return oom(in);
            for (size_t i = 0; i < ap->n_graphs; i++)
                if (ap->graphs[i] && !(c->graphs[i] = inline_graph(in, ap->graphs[i], depth + 1)))
                    return false;
        }
        n->attribute[k] = c;
    }
    return true;
}

static Onnx__GraphProto *inline_graph(Inliner *in, const Onnx__GraphProto *gp, int depth) {
    if (depth > IR_MAX_SUBGRAPH_DEPTH) {
        diag_error(in->d, NULL, "subgraphs nested more than %d deep",
                   (int)IR_MAX_SUBGRAPH_DEPTH);
        return NULL;
    }
    Onnx__NodeProto **nodes = NULL;
    size_t n = 0, cap = 0;
    if (!inline_nodes(in, gp->node, gp->n_node, 0, &nodes, &n, &cap)) return NULL;
    for (size_t i = 0; i < n; i++)
        if (!inline_attr_graphs(in, &nodes[i], depth)) return NULL;
    Onnx__GraphProto *c = arena_alloc(in->a, sizeof *c);
    if (!c) {
        oom(in);
        return NULL;
    }
    *c = *gp;
    c->node = nodes;
    c->n_node = n;
    return c;
}

const Onnx__ModelProto *fn_inline_model(const Onnx__ModelProto *m, Arena *a, Diag *d) {
    if (m->n_functions == 0 || !m->graph) return m;
    Inliner in = { .m = m, .a = a, .d = d };
    Onnx__ModelProto *m2 = arena_alloc(a, sizeof *m2);
    if (!m2) {
        oom(&in);
        return NULL;
    }
    *m2 = *m;
    if (!merge_opsets(&in, m2)) return NULL;
    if (!(m2->graph = inline_graph(&in, m->graph, 0))) return NULL;
    return m2;
}
