/* rt_threads.c: the thread pool behind onnxcc_parallel_for (onnxcc_threads.h).
 *
 * For now every pool runs its tasks in order on the calling thread.
 */
#include "onnxcc_rt.h"

void onnxcc_parallel_for(OnnxccPool *pool, size_t n_tasks, OnnxccTaskFn fn, void *ctx) {
    (void)pool;
    for (size_t t = 0; t < n_tasks; t++) fn(ctx, t, 0);
}

size_t onnxcc_pool_threads(const OnnxccPool *pool) {
    (void)pool;
    return 1;
}
