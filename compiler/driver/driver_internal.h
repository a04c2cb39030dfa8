/* driver_internal.h: pieces shared by the subcommands (the files of driver/ only). */
#ifndef ONNXCC_DRIVER_INTERNAL_H
#define ONNXCC_DRIVER_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "driver/driver.h"
#include "frontend/frontend.h"
#include "ir/graph.h"
#include "passes/pass.h"

/* Loads a model and applies --shape options; NULL + errors on failure, with *rc set to
 * the exit code: 2 when the file cannot be read, 1 when it is not a valid model. */
Graph *drv_load(const DriverOptions *o, const char *model_path, int *rc, Diag *d);
/* Gives each sequence or optional graph input the structure of the caller's data (lays[k]
 * for graph input k, n of them) and replaces it among g->inputs by its tensors, so that
 * the caller's tensors then bind one to one. */
bool drv_bind_lists(Graph *g, const HostLayout *lays, int n, Diag *d);
/* Gives symbolic or unknown input dims the sizes of the tensors the caller will pass. */
bool drv_bind_input_shapes(Graph *g, const HostTensor *inputs, int n, Diag *d);
/* Turns graph inputs into constants holding the given tensors (for the inputs an op
 * needs at compile time: Value.needs_const, set by a failed pipeline on another load of
 * the same model).  inputs[k] is graph input k as loaded, after drv_bind_input_shapes;
 * freeze[k] says whether to freeze it.  The frozen ones leave g->inputs, and frozen[k]
 * records which went.  false + d on an error. */
bool drv_freeze_inputs(Graph *g, const HostTensor *inputs, int n, const bool *freeze,
                       bool *frozen, Diag *d);
/* The pass pipeline with the driver's options. */
bool drv_pipeline(Graph *g, const DriverOptions *o, StrBuf *dump, Diag *d);
/* The C prefix: --name, or derived from the model file name. */
void drv_c_name(const DriverOptions *o, const char *model_path, char *out, size_t size);
/* Writes a file atomically (temporary name in the same folder, then rename). */
bool drv_write_file(const char *path, const char *data, size_t len, Diag *d);
/* Reads a whole small file (tolerance.txt); malloc'ed, NUL-terminated. */
char *drv_read_text(const char *path, size_t max_bytes);

/* Emits a planned graph as C text (c and h are initialised here). */
bool drv_emit(const Graph *g, const DriverOptions *o, const char *model_path,
              const char *name, StrBuf *c, StrBuf *h, Diag *d);
/* The same, and the files of the incbin and file weights modes into `files` (initialised
 * and freed by the caller; drv_emit fails in those modes). */
bool drv_emit_files(const Graph *g, const DriverOptions *o, const char *model_path,
                    const char *name, StrBuf *c, StrBuf *h, WeightsFiles *files, Diag *d);
/* Writes the embedded runtime's files into dir. */
bool drv_write_runtime(const char *dir, Diag *d);

/* Starts argv[0] with argv (no shell), stdout and stderr to log_path (if not NULL): its
 * pid, or -1 with an error in d. */
int drv_spawn(char *const argv[], const char *log_path, Diag *d);
/* Waits for a drv_spawn'ed process: its exit status, or -1 (killed; error in d). */
int drv_wait(int pid, const char *what, Diag *d);
/* Removes a folder and the files in it (one level: the build folders have no subfolders). */
void drv_remove_tree(const char *dir);

/* rt_cache.c: the folder of the runtime's objects built with o->cc and o->cflags, built
 * now if absent; false when the cache is off or cannot be used (the caller then builds the
 * runtime's sources itself).  See rt_cache.c for the folder and the key. */
bool drv_runtime_objects(const DriverOptions *o, char *dir_out, size_t size);
/* The paths of the object files in such a folder; their number. */
int drv_runtime_object_paths(const char *dir, char paths[][512], int cap);

#endif
