/* rt_cache.c: the runtime's object files, built once per C compiler, flags and runtime.
 *
 * `onnxcc run` and `onnxcc test` link the generated C with the runtime's kernels.  Built
 * from source each time, the runtime costs several seconds of -O3 (the GEMM micro-kernels
 * alone half of it) for every model, while the model's own C is often a fraction of a
 * second.  So its objects are kept in a cache folder, one subfolder per key:
 *
 *     ROOT/rt-<16 hex digits>/    rt_*.o (and the sources and headers they came from)
 *
 * The key is a 64-bit FNV-1a hash of the compiler's name, the flags, and the name and text
 * of every embedded runtime file, so a new runtime, another compiler or other flags (a
 * sanitizer, another -march) get their own objects.  ROOT is $ONNXCC_CACHE_DIR, else
 * $XDG_CACHE_HOME/onnxcc, else $HOME/.cache/onnxcc; an empty ONNXCC_CACHE_DIR turns the
 * cache off.
 *
 * A missing entry is built in a private temporary folder inside ROOT and renamed into
 * place: the rename is atomic, so an entry that exists is complete, and two processes
 * building the same entry at once both succeed (the second discards its copy).  ROOT is
 * used only when it is a real folder (not a symbolic link) that belongs to this user and
 * that nobody else can write, so that no one can plant objects in it; otherwise, or when
 * anything fails, the caller builds the runtime from source as before, and nothing fails
 * because of the cache.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backend/backend.h"
#include "driver/driver_internal.h"

enum { MAX_RT_OBJECTS = 32 };

static uint64_t fnv1a(uint64_t h, const void *data, size_t len) {
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

/* Each string with its terminating NUL, so that ("ab", "c") and ("a", "bc") differ. */
static uint64_t cache_key(const char *cc, const char *cflags) {
    static const char version[] = "onnxcc runtime objects v1";
    uint64_t h = fnv1a(0xcbf29ce484222325ull, version, sizeof version);
    h = fnv1a(h, cc, strlen(cc) + 1);
    h = fnv1a(h, cflags, strlen(cflags) + 1);
    for (int i = 0; i < rt_n_files; i++) {
        h = fnv1a(h, rt_files[i].path, strlen(rt_files[i].path) + 1);
        uint64_t len = rt_files[i].len;
        h = fnv1a(h, &len, sizeof len);
        h = fnv1a(h, rt_files[i].text, rt_files[i].len);
    }
    return h;
}

/* A folder of ours that no one else can write, and not a link: true.  Created (0700) when
 * absent, with its parents. */
static bool private_dir(char *path) {
    struct stat st;
    if (lstat(path, &st) != 0) {
        if (errno != ENOENT) return false;
        char *slash = strrchr(path, '/');
        if (slash && slash != path) {
            *slash = '\0';
            struct stat parent;
            bool parent_ok = stat(path, &parent) == 0 || mkdir(path, 0700) == 0 ||
                             errno == EEXIST;
            *slash = '/';
            if (!parent_ok) return false;
        }
        if (mkdir(path, 0700) != 0 && errno != EEXIST) return false;
        if (lstat(path, &st) != 0) return false;
    }
    return S_ISDIR(st.st_mode) && st.st_uid == geteuid() && (st.st_mode & 022) == 0;
}

/* ROOT, or false when the cache is off or unusable. */
static bool cache_root(char *out, size_t size) {
    const char *dir = getenv("ONNXCC_CACHE_DIR");
    int n;
    if (dir) {
        if (!dir[0]) return false;
        n = snprintf(out, size, "%s", dir);
    } else if ((dir = getenv("XDG_CACHE_HOME")) && dir[0] == '/') {
        n = snprintf(out, size, "%s/onnxcc", dir);
    } else if ((dir = getenv("HOME")) && dir[0] == '/') {
        n = snprintf(out, size, "%s/.cache/onnxcc", dir);
    } else {
        return false;
    }
    return n > 0 && (size_t)n < size && private_dir(out);
}

/* The runtime's .c files, as paths under dir, with `suffix` in place of ".c". */
static int runtime_units(const char *dir, const char *suffix, char paths[][512], int cap) {
    int n = 0;
    for (int i = 0; i < rt_n_files && n < cap; i++) {
        const char *f = rt_files[i].path;
        size_t len = strlen(f);
        if (len < 2 || strcmp(f + len - 2, ".c") != 0) continue;
        int w = snprintf(paths[n], 512, "%s/%.*s%s", dir, (int)(len - 2), f, suffix);
        if (w > 0 && w < 512) n++;
    }
    return n;
}

/* Builds every runtime unit of tmp into an object beside it, the units in parallel. */
static bool compile_units(const char *cc, const char *cflags, const char *tmp, Diag *d) {
    char src[MAX_RT_OBJECTS][512], obj[MAX_RT_OBJECTS][512];
    int n = runtime_units(tmp, ".c", src, MAX_RT_OBJECTS);
    if (runtime_units(tmp, ".o", obj, MAX_RT_OBJECTS) != n || n == 0) return false;
    char *flags = strdup(cflags);
    if (!flags) return false;
    /* cc CFLAGS... -std=c11 -Wall -Wextra -Werror -I TMP -c SRC -o OBJ: the flags of a
     * whole build (run.c), so the objects are what that build would have made. */
    char *argv[160];
    int argc = 0;
    argv[argc++] = (char *)cc;
    for (char *tok = strtok(flags, " \t"); tok && argc < 140; tok = strtok(NULL, " \t"))
        argv[argc++] = tok;
    const char *fixed[] = {"-std=c11", "-Wall", "-Wextra", "-Werror", "-I", tmp, "-c"};
    for (size_t i = 0; i < sizeof fixed / sizeof *fixed; i++) argv[argc++] = (char *)fixed[i];
    int base = argc;
    pid_t pids[MAX_RT_OBJECTS];
    bool ok = true;
    int started = 0;
    for (; started < n; started++) {
        argc = base;
        argv[argc++] = src[started];
        argv[argc++] = "-o";
        argv[argc++] = obj[started];
        argv[argc] = NULL;
        char log[600];
        snprintf(log, sizeof log, "%s.log", obj[started]);
        pids[started] = drv_spawn(argv, log, d);
        if (pids[started] < 0) {
            ok = false;
            break;
        }
    }
    for (int i = 0; i < started; i++) ok = drv_wait(pids[i], cc, d) == 0 && ok;
    free(flags);
    return ok;
}

bool drv_runtime_objects(const DriverOptions *o, char *dir_out, size_t size) {
    char root[400];
    if (!cache_root(root, sizeof root)) return false;
    const char *cflags = o->cflags ? o->cflags : "";
    int n = snprintf(dir_out, size, "%s/rt-%016llx", root,
                     (unsigned long long)cache_key(o->cc, cflags));
    if (n <= 0 || (size_t)n >= size) return false;
    struct stat st;
    if (lstat(dir_out, &st) == 0) return S_ISDIR(st.st_mode) && st.st_uid == geteuid();

    char tmp[500];
    snprintf(tmp, sizeof tmp, "%s/tmp-XXXXXX", root);
    if (!mkdtemp(tmp)) return false;
    /* Errors of a failed cache build are not the user's: they are dropped, and the
     * caller's own build from source reports whatever is really wrong. */
    Diag quiet;
    diag_init(&quiet);
    bool ok = drv_write_runtime(tmp, &quiet) && compile_units(o->cc, cflags, tmp, &quiet);
    diag_free(&quiet);
    if (ok && o->verbose) fprintf(stderr, "onnxcc: built the runtime's objects in %s\n", dir_out);
    if (ok && rename(tmp, dir_out) == 0) return true;
    drv_remove_tree(tmp);   /* failed, or another process put the same entry first */
    return ok && lstat(dir_out, &st) == 0 && S_ISDIR(st.st_mode);
}

int drv_runtime_object_paths(const char *dir, char paths[][512], int cap) {
    return runtime_units(dir, ".o", paths, cap);
}
