/* weights_main.c: a program around a model compiled with --name net, for the weights
 * modes' CLI tests (tests/cli/run.sh).  Fills every float input with a fixed pattern,
 * runs the model once and writes all outputs, raw, to OUT, so that the outputs of two
 * weights modes can be compared byte for byte.
 *
 *   usage: weights_main OUT                         (weights inside the program)
 *          weights_main OUT NET.weights DAMAGE      (built with -DWEIGHTS_FILE)
 *
 * With -DWEIGHTS_FILE it first checks that net_run fails while no weights were given,
 * then loads NET.weights into 64-byte aligned memory, damages it as DAMAGE says (none,
 * truncate, header, flip, misalign) and hands it to net_set_weights.  Exit codes: 0 ran,
 * 2 usage, 3 I/O or memory, 4 the model failed, 5 it ran without weights, and 20 - rc
 * when net_set_weights returned rc < 0 (21 size, 22 header, 23 checksum, 24 alignment).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net.h"

#ifdef WEIGHTS_FILE
/* NET.weights in memory aligned to 64, with 64 spare bytes to misalign it on purpose. */
static unsigned char *load_weights(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    if (!f || fseek(f, 0, SEEK_END) != 0) return NULL;
    long len = ftell(f);
    if (len < 0 || fseek(f, 0, SEEK_SET) != 0) return NULL;
    unsigned char *buf = aligned_alloc(64, ((size_t)len / 64 + 2) * 64);
    if (!buf || fread(buf, 1, (size_t)len, f) != (size_t)len) return NULL;
    fclose(f);
    *size = (size_t)len;
    return buf;
}

/* Hands the (damaged) weights over; returns what net_set_weights returned. */
static int give_weights(unsigned char *buf, size_t size, const char *damage) {
    if (strcmp(damage, "truncate") == 0) size--;
    else if (strcmp(damage, "header") == 0) buf[0] ^= 1;          /* the magic */
    else if (strcmp(damage, "flip") == 0) buf[64] ^= 0x10;       /* the first tensor */
    else if (strcmp(damage, "misalign") == 0) {
        memmove(buf + 4, buf, size);
        buf += 4;
    } else if (strcmp(damage, "none") != 0) return 2;
    return net_set_weights(buf, size);
}
#endif

int main(int argc, char **argv) {
    enum { NI = net_NUM_INPUTS, NO = net_NUM_OUTPUTS };
    void *in[NI + 1] = {0}, *out[NO + 1] = {0};
#ifdef WEIGHTS_FILE
    if (argc != 4) return 2;
#else
    if (argc != 2) return 2;
#endif
    for (int i = 0; i < NI; i++) {
        size_t n = net_inputs[i].nbytes;
        in[i] = calloc(n ? n : 1, 1);
        if (!in[i]) return 3;
        if (net_inputs[i].elem_type != 1) continue;   /* float: a pattern; others: zeros */
        for (size_t k = 0; k < n / sizeof(float); k++)
            ((float *)in[i])[k] = (float)(k % 17) / 17;
    }
    for (int i = 0; i < NO; i++)
        if (!(out[i] = calloc(net_outputs[i].nbytes ? net_outputs[i].nbytes : 1, 1))) return 3;
    void *ws = malloc(net_WORKSPACE_BYTES);
    if (!ws) return 3;
#ifdef WEIGHTS_FILE
    if (net_run_generic((const void *const *)in, out, ws) != -1) return 5;
    size_t size;
    unsigned char *weights = load_weights(argv[2], &size);
    if (!weights) return 3;
    int rc = give_weights(weights, size, argv[3]);
    if (rc != 0) {
        fprintf(stderr, "net_set_weights returned %d\n", rc);
        return rc < 0 ? 20 - rc : rc;
    }
#endif
    if (net_run_generic((const void *const *)in, out, ws) != 0) return 4;
    FILE *f = fopen(argv[1], "wb");
    if (!f) return 3;
    for (int i = 0; i < NO; i++)
        if (fwrite(out[i], 1, net_outputs[i].nbytes, f) != net_outputs[i].nbytes) return 3;
    if (fclose(f) != 0) return 3;
#ifdef WEIGHTS_FILE
    free(weights);
#endif
    for (int i = 0; i < NI; i++) free(in[i]);
    for (int i = 0; i < NO; i++) free(out[i]);
    free(ws);
    return 0;
}
