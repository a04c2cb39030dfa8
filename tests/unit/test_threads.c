/* test_threads.c: the runtime's thread pool (rt_threads.c) and the generated entry points
 * that take one.
 *
 * The pool tests count how often each task ran (atomically) and check the thread index
 * and the visibility of plain writes after the call returns, over several task and thread
 * counts, repeated calls, nested calls, a pool shared by two calling threads, and
 * create/destroy cycles.  The model tests compile a small CNN and check that a run with a
 * pool gives bitwise the same outputs as a run without: through the driver (the harness
 * that `onnxcc run --threads` uses), and through NAME_run / NAME_run_pool called by a small
 * program written here, as a user would call them.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "driver/driver.h"
#include "driver/driver_internal.h"
#include "helpers.h"
#include "onnxcc_threads.h"

#ifdef ONNXCC_TEST_CFLAGS
#define MODEL_CFLAGS ONNXCC_TEST_CFLAGS
#else
#define MODEL_CFLAGS "-O1"
#endif

/* ---- the pool ------------------------------------------------------------------------ */

/* What the tasks of one call record. */
typedef struct Record {
    OnnxccPool *pool;
    size_t n_tasks;
    atomic_int *runs;           /* per task: how often it ran */
    size_t *value;              /* per task: a plain write, checked after the call */
    size_t threads;             /* valid thread indices are below this */
    atomic_int bad_thread;      /* tasks that saw an index out of range */
} Record;

static void record_init(Record *r, OnnxccPool *pool, size_t n_tasks) {
    r->pool = pool;
    r->n_tasks = n_tasks;
    r->runs = calloc(n_tasks + 1, sizeof *r->runs);
    r->value = calloc(n_tasks + 1, sizeof *r->value);
    cr_assert(r->runs && r->value);
    r->threads = onnxcc_pool_threads(pool);
    atomic_init(&r->bad_thread, 0);
}

/* Every task ran once, wrote its value, and saw a valid thread index. */
static void record_check(Record *r, const char *what) {
    for (size_t t = 0; t < r->n_tasks; t++) {
        cr_assert_eq(atomic_load(&r->runs[t]), 1, "%s: task %zu of %zu ran %d times", what, t,
                     r->n_tasks, atomic_load(&r->runs[t]));
        cr_assert_eq(r->value[t], 3 * t + 1, "%s: task %zu's write is not visible", what, t);
    }
    cr_assert_eq(atomic_load(&r->bad_thread), 0, "%s: thread index out of range", what);
    free(r->runs);
    free(r->value);
}

static void count_task(void *ctx, size_t task, size_t thread) {
    Record *r = ctx;
    if (thread >= r->threads) atomic_fetch_add(&r->bad_thread, 1);
    atomic_fetch_add(&r->runs[task], 1);
    r->value[task] = 3 * task + 1;
}

Test(threads, every_task_runs_once) {
    const int thread_counts[] = {1, 2, 4, 8};
    const size_t task_counts[] = {0, 1, 2, 3, 17, 1000};
    for (size_t i = 0; i < sizeof thread_counts / sizeof thread_counts[0]; i++) {
        OnnxccPool *pool = onnxcc_pool_create(thread_counts[i]);
        cr_assert(pool, "onnxcc_pool_create(%d) failed", thread_counts[i]);
        cr_assert_eq(onnxcc_pool_threads(pool), (size_t)thread_counts[i]);
        for (int repeat = 0; repeat < 20; repeat++) {
            for (size_t k = 0; k < sizeof task_counts / sizeof task_counts[0]; k++) {
                Record r;
                record_init(&r, pool, task_counts[k]);
                onnxcc_parallel_for(pool, r.n_tasks, count_task, &r);
                char what[64];
                snprintf(what, sizeof what, "%d threads, call %d", thread_counts[i], repeat);
                record_check(&r, what);
            }
        }
        onnxcc_pool_destroy(pool);
    }
}

/* Appends each task to an order list (only called serially). */
typedef struct Order {
    size_t tasks[8];
    size_t threads[8];
    size_t n;
} Order;

static void order_task(void *ctx, size_t task, size_t thread) {
    Order *o = ctx;
    o->tasks[o->n] = task;
    o->threads[o->n++] = thread;
}

Test(threads, null_pool_runs_in_order_on_the_caller) {
    cr_assert_eq(onnxcc_pool_threads(NULL), 1);
    Order o = {.n = 0};
    onnxcc_parallel_for(NULL, 5, order_task, &o);
    cr_assert_eq(o.n, 5);
    for (size_t t = 0; t < 5; t++) {
        cr_assert_eq(o.tasks[t], t);
        cr_assert_eq(o.threads[t], 0);
    }
    onnxcc_parallel_for(NULL, 0, order_task, &o);
    cr_assert_eq(o.n, 5, "zero tasks ran something");
}

Test(threads, create_rejects_bad_counts) {
    cr_assert_null(onnxcc_pool_create(0));
    cr_assert_null(onnxcc_pool_create(-3));
    cr_assert_null(onnxcc_pool_create(ONNXCC_POOL_MAX_THREADS + 1));
    onnxcc_pool_destroy(NULL);
}

Test(threads, create_destroy_cycles) {
    for (int cycle = 0; cycle < 60; cycle++) {
        int threads = 1 + cycle % 5;
        OnnxccPool *pool = onnxcc_pool_create(threads);
        cr_assert(pool, "cycle %d: onnxcc_pool_create(%d) failed", cycle, threads);
        if (cycle % 2) {   /* half of them destroyed right after a call, half untouched */
            Record r;
            record_init(&r, pool, 40);
            onnxcc_parallel_for(pool, r.n_tasks, count_task, &r);
            record_check(&r, "cycle");
        }
        onnxcc_pool_destroy(pool);
    }
}

/* Tasks that each wait (up to 10 s) until `expected` tasks have started: they can only
 * all get through in time if that many threads run them at once. */
typedef struct Meet {
    atomic_int started;
    int expected;
    atomic_int met;             /* tasks that saw all the others start */
} Meet;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void meet(Meet *m) {
    atomic_fetch_add(&m->started, 1);
    for (double end = now_s() + 10; now_s() < end;) {
        if (atomic_load(&m->started) == m->expected) {
            atomic_fetch_add(&m->met, 1);
            return;
        }
        sched_yield();
    }
}

static void meet_init(Meet *m, int expected) {
    atomic_init(&m->started, 0);
    m->expected = expected;
    atomic_init(&m->met, 0);
}

static void meet_task(void *ctx, size_t task, size_t thread) {
    (void)task, (void)thread;
    meet(ctx);
}

Test(threads, tasks_run_at_the_same_time) {
    OnnxccPool *pool = onnxcc_pool_create(2);
    cr_assert(pool);
    /* After a pause the worker sleeps: the call must wake it. */
    nanosleep(&(struct timespec){.tv_nsec = 20000000}, NULL);
    Meet m;
    meet_init(&m, 2);
    onnxcc_parallel_for(pool, 2, meet_task, &m);
    cr_assert_eq(atomic_load(&m.met), 2, "the two tasks did not run at the same time");
    onnxcc_pool_destroy(pool);
}

/* One outer task per thread, all running at once (Meet), each making a nested call of 3
 * tasks on the same pool. */
typedef struct Nested {
    OnnxccPool *pool;
    Meet meet;
    atomic_int runs[8 * 3];
    atomic_int wrong_thread;    /* inner tasks that saw another thread index */
} Nested;

typedef struct Inner {
    Nested *outer;
    size_t outer_task, outer_thread;
} Inner;

static void inner_task(void *ctx, size_t task, size_t thread) {
    Inner *in = ctx;
    if (thread != in->outer_thread) atomic_fetch_add(&in->outer->wrong_thread, 1);
    atomic_fetch_add(&in->outer->runs[in->outer_task * 3 + task], 1);
}

static void outer_task(void *ctx, size_t task, size_t thread) {
    Nested *n = ctx;
    meet(&n->meet);
    Inner in = {n, task, thread};
    onnxcc_parallel_for(n->pool, 3, inner_task, &in);
}

Test(threads, nested_calls_run_serially_on_their_thread) {
    for (int threads = 1; threads <= 4; threads++) {
        OnnxccPool *pool = onnxcc_pool_create(threads);
        cr_assert(pool);
        for (int repeat = 0; repeat < 3; repeat++) {
            Nested n = {.pool = pool};
            meet_init(&n.meet, threads);
            for (size_t i = 0; i < 8 * 3; i++) atomic_init(&n.runs[i], 0);
            atomic_init(&n.wrong_thread, 0);
            onnxcc_parallel_for(pool, (size_t)threads, outer_task, &n);
            cr_assert_eq(atomic_load(&n.meet.met), threads, "%d threads: the outer tasks did "
                         "not run at the same time", threads);
            for (size_t i = 0; i < (size_t)threads * 3; i++)
                cr_assert_eq(atomic_load(&n.runs[i]), 1, "%d threads: inner task %zu ran %d times",
                             threads, i, atomic_load(&n.runs[i]));
            cr_assert_eq(atomic_load(&n.wrong_thread), 0,
                         "a nested task did not get its enclosing task's thread index");
        }
        onnxcc_pool_destroy(pool);
    }
}

/* Two threads of the program run calls on one shared pool at the same time. */
static void *shared_caller(void *arg) {
    OnnxccPool *pool = arg;
    for (int repeat = 0; repeat < 200; repeat++) {
        Record r;
        record_init(&r, pool, 1 + (size_t)repeat % 50);
        onnxcc_parallel_for(pool, r.n_tasks, count_task, &r);
        record_check(&r, "shared pool");
    }
    return NULL;
}

Test(threads, pool_shared_by_two_callers) {
    OnnxccPool *pool = onnxcc_pool_create(3);
    cr_assert(pool);
    pthread_t other;
    cr_assert_eq(pthread_create(&other, NULL, shared_caller, pool), 0);
    shared_caller(pool);
    cr_assert_eq(pthread_join(other, NULL), 0);
    onnxcc_pool_destroy(pool);
}

/* ---- generated code with a pool --------------------------------------------------------- */

/* x [1,8,20,20] -> Conv 3x3 pads 1 + Relu -> MaxPool 2x2 -> Conv 1x1 -> y [1,32,10,10]:
 * a graph whose node functions take the pool. */
static Graph *small_cnn(void) {
    Graph *g = tb_graph();
    Value *x = tb_input(g, "x", 4, (int64_t[]){1, 8, 20, 20});
    Value *w1 = tb_const_rand(g, "w1", 4, (int64_t[]){16, 8, 3, 3}, 1, -0.5f, 0.5f);
    Value *b1 = tb_const_rand(g, "b1", 1, (int64_t[]){16}, 2, -0.5f, 0.5f);
    Node *conv1 = tb_node(g, "Conv", "conv1", 3, (Value *[]){x, w1, b1}, 1);
    tb_attr_ints(g, conv1, "pads", (int64_t[]){1, 1, 1, 1}, 4);
    Node *relu = tb_node(g, "Relu", "relu", 1, conv1->outputs, 1);
    Node *pool = tb_node(g, "MaxPool", "pool", 1, relu->outputs, 1);
    tb_attr_ints(g, pool, "kernel_shape", (int64_t[]){2, 2}, 2);
    tb_attr_ints(g, pool, "strides", (int64_t[]){2, 2}, 2);
    Value *w2 = tb_const_rand(g, "w2", 4, (int64_t[]){32, 16, 1, 1}, 3, -0.5f, 0.5f);
    Node *conv2 = tb_node(g, "Conv", "conv2", 2, (Value *[]){pool->outputs[0], w2}, 1);
    tb_output(g, conv2->outputs[0]);
    Diag d;
    cr_assert(tb_pipeline(g, true, &d), "pipeline failed");
    diag_free(&d);
    return g;
}

Test(threads, driver_threads_give_the_same_bits) {
    Graph *g = small_cnn();
    const Value *xv = g->inputs[0];
    HostTensor in = {.name = (char *)xv->name, .dtype = xv->dtype, .rank = xv->rank,
                     .nbytes = ir_nbytes(xv)};
    memcpy(in.dims, xv->dims, sizeof xv->dims);
    in.data = malloc(in.nbytes);
    cr_assert(in.data);
    tb_fill(in.data, ir_numel(xv), 7);
    HostTensor ref, got;
    const int threads[] = {1, 2, 4};
    for (int i = 0; i < 3; i++) {
        DriverOptions o;
        driver_options_default(&o);
        o.cflags = MODEL_CFLAGS;
        o.threads = threads[i];
        Diag d;
        diag_init(&d);
        bool ok = driver_build_and_run(g, &o, &in, 1, i == 0 ? &ref : &got, &d);
        for (int k = 0; k < d.n_messages; k++) cr_log_error("%s", d.messages[k]);
        diag_free(&d);
        cr_assert(ok, "running with %d threads failed", threads[i]);
        if (i == 0) continue;
        cr_assert_eq(got.nbytes, ref.nbytes);
        cr_assert(memcmp(got.data, ref.data, ref.nbytes) == 0,
                  "%d threads give other bits than 1", threads[i]);
        tensor_free(&got);
    }
    tensor_free(&ref);
    free(in.data);
    ir_graph_free(g);
}

/* Calls the typed and generic entry points with and without pools, several times, and
 * exits 1 at the first output that differs in any bit from m_run's. */
static const char entry_points_c[] =
    "#include <stdio.h>\n#include <stdlib.h>\n#include <string.h>\n\n"
    "#include \"m.h\"\n#include \"onnxcc_threads.h\"\n\n"
    "int main(void)\n{\n"
    "    size_t nx = m_inputs[0].numel, ny = m_outputs[0].nbytes;\n"
    "    float *x = malloc(nx * sizeof *x), *ref = malloc(ny), *y = malloc(ny);\n"
    "    void *ws = malloc(m_WORKSPACE_BYTES);\n"
    "    if (!x || !ref || !y || !ws) return 2;\n"
    "    for (size_t i = 0; i < nx; i++) x[i] = (float)((i * 7919u) % 997u) / 499.0f - 1.0f;\n"
    "    if (m_run(x, ref, ws) != 0) return 2;\n"
    "    for (int threads = 1; threads <= 4; threads++) {\n"
    "        OnnxccPool *pool = onnxcc_pool_create(threads);\n"
    "        if (!pool) return 2;\n"
    "        for (int repeat = 0; repeat < 5; repeat++) {\n"
    "            const void *in[1] = {x};\n"
    "            void *out[1] = {y};\n"
    "            memset(y, 0xff, ny);\n"
    "            if (m_run_pool(x, y, ws, pool) != 0 || memcmp(y, ref, ny) != 0) return 1;\n"
    "            memset(y, 0xff, ny);\n"
    "            if (m_run_generic_pool(in, out, ws, pool) != 0 || memcmp(y, ref, ny) != 0)\n"
    "                return 1;\n"
    "        }\n"
    "        onnxcc_pool_destroy(pool);\n"
    "    }\n"
    "    const void *in[1] = {x};\n"
    "    void *out[1] = {y};\n"
    "    memset(y, 0xff, ny);\n"
    "    if (m_run_generic(in, out, ws) != 0 || memcmp(y, ref, ny) != 0) return 1;\n"
    "    free(x), free(ref), free(y), free(ws);\n"
    "    return 0;\n}\n";

Test(threads, entry_points_with_a_pool_give_the_same_bits) {
    Graph *g = small_cnn();
    char dir[] = "/tmp/onnxcc-threads-XXXXXX";
    cr_assert(mkdtemp(dir));
    DriverOptions o;
    driver_options_default(&o);
    Diag d;
    diag_init(&d);
    StrBuf c, h;
    bool ok = drv_emit(g, &o, "small_cnn.onnx", "m", &c, &h, &d);
    char path[128];
    if (ok) {
        snprintf(path, sizeof path, "%s/m.c", dir);
        ok = drv_write_file(path, c.data, c.len, &d);
        snprintf(path, sizeof path, "%s/m.h", dir);
        ok = ok && drv_write_file(path, h.data, h.len, &d);
        snprintf(path, sizeof path, "%s/main.c", dir);
        ok = ok && drv_write_file(path, entry_points_c, sizeof entry_points_c - 1, &d) &&
             drv_write_runtime(dir, &d);
    }
    sb_free(&c);
    sb_free(&h);
    for (int k = 0; k < d.n_messages; k++) cr_log_error("%s", d.messages[k]);
    diag_free(&d);
    cr_assert(ok, "writing the generated files failed");
    char cmd[512];
    snprintf(cmd, sizeof cmd, "clang -std=c11 -Wall -Wextra -Werror %s -I %s %s/*.c -o %s/prog "
             "-lm -pthread > %s/cc.log 2>&1", MODEL_CFLAGS, dir, dir, dir, dir);
    cr_assert_eq(system(cmd), 0, "building the program failed (see %s/cc.log)", dir);
    snprintf(cmd, sizeof cmd, "%s/prog", dir);
    cr_assert_eq(system(cmd), 0, "an entry point with a pool gave other bits than m_run");
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
    ir_graph_free(g);
}
