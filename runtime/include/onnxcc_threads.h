/* onnxcc_threads.h: the optional thread pool every parallel kernel takes.
 *
 * Kernels take an `OnnxccPool *pool` (last parameter); NULL means one thread, the
 * caller's.  A kernel splits its work into independent tasks and hands them to
 * onnxcc_parallel_for, which runs them on the pool's threads (the caller's included) and
 * returns when all are done.
 *
 * The caller makes a pool once with onnxcc_pool_create (POSIX threads: link with
 * -pthread), passes it to NAME_run_pool for as many runs as it likes, and frees it with
 * onnxcc_pool_destroy.  Creating a pool is the only place where the runtime allocates
 * memory or starts threads; generated code never does either.
 */
#ifndef ONNXCC_ONNXCC_THREADS_H
#define ONNXCC_ONNXCC_THREADS_H

#include <stddef.h>

typedef struct OnnxccPool OnnxccPool;

/* Most threads a pool may have (the caller's included). */
#define ONNXCC_POOL_MAX_THREADS 256

/* One task: `task` in [0, n_tasks), run by thread `thread` in [0, onnxcc_pool_threads()).
 * Two tasks that run at the same time always have different `thread` values, so a kernel
 * may give each thread its own slice of a scratch buffer. */
typedef void (*OnnxccTaskFn)(void *ctx, size_t task, size_t thread);

/* A pool of `threads` threads in all: the thread that calls onnxcc_parallel_for and
 * threads - 1 workers started here.  NULL when threads is not in
 * [1, ONNXCC_POOL_MAX_THREADS] or when memory or a thread could not be had.  A pool of one
 * thread is valid and runs everything on the caller. */
OnnxccPool *onnxcc_pool_create(int threads);

/* Stops and joins the workers and frees the pool.  No onnxcc_parallel_for call on it may
 * be running.  NULL is allowed (nothing happens). */
void onnxcc_pool_destroy(OnnxccPool *pool);

/* Runs fn(ctx, t, thread) for every t in [0, n_tasks), each exactly once, and returns when
 * all have finished; everything the tasks wrote is then visible to the caller.  Tasks are
 * handed out one at a time in increasing order to whichever thread is free, so their
 * order across threads is not fixed: a task must not depend on another task of the same
 * call.  With pool NULL (or a pool of one thread) the tasks run in order on the calling
 * thread.
 *
 * Serial fallbacks, which never deadlock:
 *  - a call made from inside a task (nested) runs its tasks in order on that thread, with
 *    the enclosing task's `thread` when the pool is the same one, else 0;
 *  - a pool may be shared by several threads that run models at the same time: a call
 *    made while another call on the pool is running runs on its caller alone (thread 0). */
void onnxcc_parallel_for(OnnxccPool *pool, size_t n_tasks, OnnxccTaskFn fn, void *ctx);

/* Threads that run tasks: 1 for NULL. */
size_t onnxcc_pool_threads(const OnnxccPool *pool);

#endif
