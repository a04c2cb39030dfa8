/* onnxcc_threads.h: the optional thread pool every parallel kernel takes.
 *
 * Kernels take an `OnnxccPool *pool` (last parameter); NULL means one thread, the
 * caller's.  A kernel splits its work into independent tasks and hands them to
 * onnxcc_parallel_for, which runs them on the pool's threads (the caller's included) and
 * returns when all are done.
 */
#ifndef ONNXCC_ONNXCC_THREADS_H
#define ONNXCC_ONNXCC_THREADS_H

#include <stddef.h>

typedef struct OnnxccPool OnnxccPool;

/* One task: `task` in [0, n_tasks), run by thread `thread` in [0, onnxcc_pool_threads()). */
typedef void (*OnnxccTaskFn)(void *ctx, size_t task, size_t thread);

/* Runs fn(ctx, t, thread) for every t in [0, n_tasks), each exactly once, and returns when
 * all have finished.  With pool NULL (or a pool of one thread) the tasks run in order on
 * the calling thread. */
void onnxcc_parallel_for(OnnxccPool *pool, size_t n_tasks, OnnxccTaskFn fn, void *ctx);

/* Threads that run tasks: 1 for NULL. */
size_t onnxcc_pool_threads(const OnnxccPool *pool);

#endif
