/* The digits example: classifies scikit-learn's 8x8 handwritten digits with C code that
 * onnxcc generated from model.onnx (see README.md).  Reads the held-out images and labels
 * written by train.py, runs the model on each image, prints the first few as ASCII art with
 * the predicted and the true label, then the accuracy.
 *
 *   usage: digits test_images.bin test_labels.bin
 *
 * test_images.bin holds N*64 float32 little-endian pixels in 0..1, test_labels.bin N bytes.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "digits.h"

/* The generated header names the workspace size after --name. */
#if defined(digits_WORKSPACE_BYTES)
#define WORKSPACE_BYTES digits_WORKSPACE_BYTES
#elif defined(DIGITS_WORKSPACE_BYTES)
#define WORKSPACE_BYTES DIGITS_WORKSPACE_BYTES
#else
#error "digits.h defines no digits_WORKSPACE_BYTES"
#endif

enum { SIDE = 8, PIXELS = SIDE * SIDE, CLASSES = 10, SHOWN = 8, PER_ROW = 4 };

/* Reads a whole file into a new buffer; returns NULL (after saying why) on failure. */
static unsigned char *read_file(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        return NULL;
    }
    unsigned char *buf = NULL;
    long len = -1;
    if (fseek(f, 0, SEEK_END) == 0)
        len = ftell(f);
    if (len < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fprintf(stderr, "%s: cannot get the file size\n", path);
        goto fail;
    }
    buf = malloc(len > 0 ? (size_t)len : 1);
    if (!buf) {
        fprintf(stderr, "%s: out of memory\n", path);
        goto fail;
    }
    if (fread(buf, 1, (size_t)len, f) != (size_t)len) {
        fprintf(stderr, "%s: read error\n", path);
        goto fail;
    }
    fclose(f);
    *size = (size_t)len;
    return buf;
fail:
    free(buf);
    fclose(f);
    return NULL;
}

/* Decodes a float32 stored little-endian, whatever the byte order of this machine. */
static float load_f32le(const unsigned char *p)
{
    uint32_t bits = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                    (uint32_t)p[3] << 24;
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

static int argmax(const float *v, int n)
{
    int best = 0;
    for (int i = 1; i < n; i++)
        if (v[i] > v[best])
            best = i;
    return best;
}

/* Prints images [first, first + count) side by side, two characters per pixel. */
static void print_images(const float *images, const uint8_t *labels, const int *predicted,
                         int first, int count)
{
    static const char shades[] = " .:-=+*#%@";
    for (int i = first; i < first + count; i++) {
        char head[32];
        snprintf(head, sizeof head, "pred %d true %d%s", predicted[i], labels[i],
                 predicted[i] == labels[i] ? "" : " x");
        printf("%-16s   ", head);
    }
    printf("\n");
    for (int row = 0; row < SIDE; row++) {
        for (int i = first; i < first + count; i++) {
            const float *img = images + (size_t)i * PIXELS + row * SIDE;
            for (int col = 0; col < SIDE; col++) {
                float v = img[col] < 0.0f ? 0.0f : img[col] > 1.0f ? 1.0f : img[col];
                char c = shades[(int)(v * (float)(sizeof shades - 2) + 0.5f)];
                putchar(c);
                putchar(c);
            }
            printf("   ");
        }
        printf("\n");
    }
    printf("\n");
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s test_images.bin test_labels.bin\n", argv[0]);
        return 2;
    }
    int status = 1;
    size_t image_bytes = 0, n = 0;
    unsigned char *raw_images = NULL;
    uint8_t *labels = NULL;
    float *images = NULL;
    int *predicted = NULL;
    void *workspace = NULL;

    raw_images = read_file(argv[1], &image_bytes);
    labels = read_file(argv[2], &n);
    if (!raw_images || !labels)
        goto out;
    if (n == 0 || image_bytes / n != PIXELS * sizeof(float) ||
        image_bytes % n != 0) {
        fprintf(stderr, "%s holds %zu bytes, expected %zu images of %zu bytes (from %s)\n",
                argv[1], image_bytes, n, PIXELS * sizeof(float), argv[2]);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        if (labels[i] >= CLASSES) {
            fprintf(stderr, "%s: label %zu is %d, not a digit\n", argv[2], i, labels[i]);
            goto out;
        }
    }

    images = malloc(n * PIXELS * sizeof *images);
    predicted = malloc(n * sizeof *predicted);
    workspace = malloc(WORKSPACE_BYTES > 0 ? WORKSPACE_BYTES : 1);
    if (!images || !predicted || !workspace) {
        fprintf(stderr, "out of memory\n");
        goto out;
    }
    for (size_t i = 0; i < n * PIXELS; i++)
        images[i] = load_f32le(raw_images + 4 * i);

    size_t correct = 0;
    for (size_t i = 0; i < n; i++) {
        float logits[CLASSES];
        if (digits_run(images + i * PIXELS, logits, workspace) != 0) {
            fprintf(stderr, "digits_run failed on image %zu\n", i);
            goto out;
        }
        predicted[i] = argmax(logits, CLASSES);
        correct += predicted[i] == labels[i];
    }

    int shown = n < SHOWN ? (int)n : SHOWN;
    for (int i = 0; i < shown; i += PER_ROW)
        print_images(images, labels, predicted, i, shown - i < PER_ROW ? shown - i : PER_ROW);
    printf("accuracy: %zu/%zu (%.1f%%)\n", correct, n, 100.0 * (double)correct / (double)n);
    status = 0;
out:
    free(workspace);
    free(predicted);
    free(images);
    free(labels);
    free(raw_images);
    return status;
}
