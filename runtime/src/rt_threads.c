/* rt_threads.c: the thread pool behind onnxcc_parallel_for (onnxcc_threads.h).
 *
 * A pool is the caller's thread plus threads - 1 POSIX worker threads.  One call of
 * onnxcc_parallel_for is a "job": the caller writes the job's fields (fn, ctx, n_tasks),
 * resets the task counter `next` and publishes the job by storing a new value in `job`
 * (a generation number times 2, plus 1 while the job is open).  Every thread, the caller
 * included, then claims tasks with atomic_fetch_add(&next, 1) until the counter passes
 * n_tasks.  When the caller's own claim fails, every task has been claimed; it closes
 * the job (clears the open bit) and waits until no worker is `inside` the job any more,
 * which means every claimed task has finished.
 *
 * Why `inside` and the second look at `job`: a worker can see a job and then be
 * descheduled for a long time.  When it runs again, the caller may already be writing the
 * fields of the next job, so the worker must not read them.  It therefore announces
 * itself first (inside += 1) and only then checks that the job it saw is still the open
 * one.  Both sides use sequentially consistent operations, so either the caller's wait
 * sees the worker's increment (and waits for it), or the worker's check sees the job
 * closed or replaced (and it leaves without touching the fields).  The caller never
 * waits for a worker that did not join, so a sleeping or descheduled worker costs
 * nothing but its help.  The worker's decrement (release) and the caller's wait
 * (acquire) make every task's writes visible to the caller when the call returns.
 *
 * Idle workers spin on `job` for a while (calls follow each other within microseconds
 * while a model runs), then sleep on a condition variable; the caller takes the mutex
 * and broadcasts only when some worker sleeps.  Nested calls and calls on a pool that is
 * already running a job run serially on their caller; a thread-local pointer tells
 * whether the current thread is inside a task.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L   /* pthreads and sched_yield under -std=c11 */
#endif

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "onnxcc_rt.h"

/* Polls of a shared flag before a waiting thread gives up its core.  One poll lasts one
 * pause instruction, 20-80 ns depending on the CPU (75 ns on the Xeon this was tuned on),
 * so an idle worker stays awake for 0.1-0.3 ms after a job: longer than the gap between
 * two parallel nodes of a model, short enough not to steal much from other programs. */
enum { SPIN_POLLS = 1 << 12 };

typedef struct Worker {
    OnnxccPool *pool;
    size_t thread;              /* its `thread` index: 1 .. threads - 1 */
    pthread_t id;
} Worker;

struct OnnxccPool {
    /* Read by all threads; written only while no job is open and no worker is inside. */
    OnnxccTaskFn fn;
    void *ctx;
    size_t n_tasks;
    size_t n_threads;           /* the caller's included */
    size_t generation;          /* jobs published so far; the caller's only */
    Worker *workers;            /* n_threads - 1 */
    size_t n_started;           /* workers running (fewer if pthread_create failed) */
    pthread_mutex_t mutex;      /* guards sleeping and waking */
    pthread_cond_t wake;
    /* Each hot counter on its own cache line, so that claiming tasks does not slow down
     * the threads polling `job`. */
    _Alignas(64) atomic_size_t job;     /* generation * 2 + 1 while open */
    _Alignas(64) atomic_size_t next;    /* next task to hand out */
    _Alignas(64) atomic_size_t inside;  /* workers that joined the current job */
    atomic_int sleepers;        /* workers blocked on `wake` (changed under mutex) */
    atomic_bool busy;           /* a parallel_for owns the pool */
    atomic_bool stop;           /* onnxcc_pool_destroy: workers exit */
};

/* The pool and thread index of the task this thread is running; NULL outside tasks.
 * Workers keep theirs for life, since they only ever run tasks. */
static _Thread_local OnnxccPool *tl_pool;
static _Thread_local size_t tl_thread;

/* Tells the CPU that this is a spin loop (saves power and the sibling hyperthread's
 * time); nothing where there is no such hint. */
static inline void cpu_relax(void) {
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
    __builtin_ia32_pause();
#elif defined(__GNUC__) && defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/* Claims and runs tasks of the current job until none is left. */
static void run_tasks(OnnxccPool *pool, size_t thread) {
    for (size_t t; (t = atomic_fetch_add(&pool->next, 1)) < pool->n_tasks;)
        pool->fn(pool->ctx, t, thread);
}

/* Waits for an open job other than `seen`; returns it, or 0 when the pool stops. */
static size_t wait_for_job(OnnxccPool *pool, size_t seen) {
    for (int i = 0; i < SPIN_POLLS; i++) {
        size_t job = atomic_load(&pool->job);
        if ((job & 1) && job != seen) return job;
        if (atomic_load(&pool->stop)) return 0;
        cpu_relax();
    }
    size_t job = 0;
    pthread_mutex_lock(&pool->mutex);
    atomic_fetch_add(&pool->sleepers, 1);
    while (!atomic_load(&pool->stop) && !(((job = atomic_load(&pool->job)) & 1) && job != seen))
        pthread_cond_wait(&pool->wake, &pool->mutex);
    atomic_fetch_sub(&pool->sleepers, 1);
    pthread_mutex_unlock(&pool->mutex);
    return atomic_load(&pool->stop) ? 0 : job;
}

static void *worker_main(void *arg) {
    Worker *w = arg;
    OnnxccPool *pool = w->pool;
    tl_pool = pool;
    tl_thread = w->thread;
    for (size_t seen = 0, job; (job = wait_for_job(pool, seen)) != 0; seen = job) {
        atomic_fetch_add(&pool->inside, 1);
        if (atomic_load(&pool->job) == job) run_tasks(pool, w->thread);
        atomic_fetch_sub(&pool->inside, 1);
    }
    return NULL;
}

/* Spins, then yields the core, until no worker is inside the job. */
static void wait_for_workers(OnnxccPool *pool) {
    for (int i = 0; atomic_load(&pool->inside) != 0; i++) {
        if (i < SPIN_POLLS) cpu_relax();
        else sched_yield();
    }
}

void onnxcc_parallel_for(OnnxccPool *pool, size_t n_tasks, OnnxccTaskFn fn, void *ctx) {
    bool idle = false;
    /* Serially: no pool, nothing to share, inside a task (nested), a task count the
     * counter could overflow, or the pool busy with another caller's job. */
    if (!pool || pool->n_threads == 1 || n_tasks <= 1 || tl_pool ||
        n_tasks > SIZE_MAX - ONNXCC_POOL_MAX_THREADS ||
        !atomic_compare_exchange_strong(&pool->busy, &idle, true)) {
        size_t thread = tl_pool && tl_pool == pool ? tl_thread : 0;
        for (size_t t = 0; t < n_tasks; t++) fn(ctx, t, thread);
        return;
    }
    pool->fn = fn;
    pool->ctx = ctx;
    pool->n_tasks = n_tasks;
    atomic_store(&pool->next, 0);
    pool->generation++;
    size_t job = pool->generation << 1 | 1;
    atomic_store(&pool->job, job);
    if (atomic_load(&pool->sleepers) > 0) {
        pthread_mutex_lock(&pool->mutex);
        pthread_cond_broadcast(&pool->wake);
        pthread_mutex_unlock(&pool->mutex);
    }
    tl_pool = pool;
    tl_thread = 0;
    run_tasks(pool, 0);
    tl_pool = NULL;
    atomic_store(&pool->job, job & ~(size_t)1);
    wait_for_workers(pool);
    atomic_store(&pool->busy, false);
}

size_t onnxcc_pool_threads(const OnnxccPool *pool) {
    return pool ? pool->n_threads : 1;
}

/* Stops and joins the workers that were started, frees everything. */
static void pool_free(OnnxccPool *pool) {
    atomic_store(&pool->stop, true);
    pthread_mutex_lock(&pool->mutex);
    pthread_cond_broadcast(&pool->wake);
    pthread_mutex_unlock(&pool->mutex);
    for (size_t i = 0; i < pool->n_started; i++) pthread_join(pool->workers[i].id, NULL);
    pthread_cond_destroy(&pool->wake);
    pthread_mutex_destroy(&pool->mutex);
    free(pool->workers);
    free(pool);
}

OnnxccPool *onnxcc_pool_create(int threads) {
    if (threads < 1 || threads > ONNXCC_POOL_MAX_THREADS) return NULL;
    /* aligned_alloc: the struct's cache-line members need 64-byte alignment, and its size
     * is a multiple of 64 because its alignment is. */
    OnnxccPool *pool = aligned_alloc(_Alignof(OnnxccPool), sizeof *pool);
    if (!pool) return NULL;
    pool->fn = NULL;
    pool->ctx = NULL;
    pool->n_tasks = 0;
    pool->n_threads = (size_t)threads;
    pool->generation = 0;
    pool->n_started = 0;
    atomic_init(&pool->job, 0);
    atomic_init(&pool->next, 0);
    atomic_init(&pool->inside, 0);
    atomic_init(&pool->sleepers, 0);
    atomic_init(&pool->busy, false);
    atomic_init(&pool->stop, false);
    pool->workers = calloc((size_t)threads, sizeof *pool->workers);
    if (!pool->workers) {
        free(pool);
        return NULL;
    }
    if (pthread_mutex_init(&pool->mutex, NULL) != 0) {
        free(pool->workers);
        free(pool);
        return NULL;
    }
    if (pthread_cond_init(&pool->wake, NULL) != 0) {
        pthread_mutex_destroy(&pool->mutex);
        free(pool->workers);
        free(pool);
        return NULL;
    }
    for (size_t i = 0; i + 1 < pool->n_threads; i++) {
        Worker *w = &pool->workers[i];
        w->pool = pool;
        w->thread = i + 1;
        if (pthread_create(&w->id, NULL, worker_main, w) != 0) {
            pool_free(pool);
            return NULL;
        }
        pool->n_started++;
    }
    return pool;
}

void onnxcc_pool_destroy(OnnxccPool *pool) {
    if (pool) pool_free(pool);
}
