/* op_util.h: helpers shared by the op files (elementwise, shape and data-movement ops):
 * typed element access for constants (float16/bfloat16 included), reading int64 lists
 * from constant inputs, axis normalisation with errors, strided copies for folding and
 * emitting loop nests with constant strides. */
#ifndef ONNXCC_OP_UTIL_H
#define ONNXCC_OP_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backend/emitter.h"
#include "ops/op.h"

/* Element i of a constant as double / int64, any numeric dtype (half types too). */
double  ou_get_f64(const Value *v, int64_t i);
int64_t ou_get_i64(const Value *v, int64_t i);
/* Stores x into element i, converting to v's dtype (half types too).  Float-to-integer
 * conversions saturate to int64 (then wrap to narrower types) and map NaN to 0, so no
 * model data causes undefined behaviour. */
void    ou_set_f64(Value *v, int64_t i, double x);
void    ou_set_i64(Value *v, int64_t i, int64_t x);

/* IEEE half and bfloat16 conversions (round to nearest even). */
float    ou_half_to_float(uint16_t h);
uint16_t ou_float_to_half(float f);
float    ou_bf16_to_float(uint16_t h);
uint16_t ou_float_to_bf16(float f);
/* x rounded to the precision of t (float, float16, bfloat16; other types: x itself), for
 * folders that mirror a computation done in t. */
double   ou_round_to(DType t, double x);

/* Reads a constant integer input (rank 0 or 1) into out[0..max).  *count gets the number
 * of elements.  false + error when missing, not constant, not integer or too long. */
bool ou_const_ints(const Node *n, int input, int64_t *out, int max, int *count, Diag *d);

/* Normalises axis for rank (allow_end: [-rank-1, rank]); error naming `what` if bad. */
bool ou_axis(const Node *n, const char *what, int64_t axis, int rank, bool allow_end,
             int *out, Diag *d);

/* Sets output y's type and shape after checking rank, dims >= 0 and the element count
 * (shapes computed from model data: Reshape, Slice, Concat...). */
bool ou_set_output(const Node *n, Value *y, DType t, int rank, const int64_t *dims, Diag *d);

/* Input i, if present, has an element type onnxcc can hold in memory (not string...). */
bool ou_check_holdable(const Node *n, int i, Diag *d);
/* Requires input i with a known shape and an element type the generated C can hold. */
bool ou_require_typed(const Node *n, int i, Diag *d);

/* Requires input i's dtype to be one of the listed (terminated by DT_UNDEFINED). */
bool ou_check_dtype(const Node *n, int i, const DType *allowed, Diag *d);
/* Lists of dtypes for ou_check_dtype. */
extern const DType ou_float_types[];      /* float, double, float16, bfloat16 */
extern const DType ou_numeric_types[];    /* floats + all integers */
extern const DType ou_signed_types[];     /* floats + signed integers */
/* The low-precision types (dtype.h), for the ops that convert them. */
extern const DType ou_lowp_float_types[]; /* float8 (five variants), float4e2m1 */
extern const DType ou_lowp_int_types[];   /* int4, uint4, int2, uint2 */

/* A loop nest over `rank` dims with up to OU_MAX_OPERANDS operands, each with its own
 * element strides (0 = broadcast, negative allowed) and base offset.  Dims of size 1 are
 * dropped and contiguous dims merged, so the common cases become one flat loop. */
enum { OU_MAX_OPERANDS = 4 };
typedef struct OuLoop {
    int rank;
    int64_t dims[IR_MAX_RANK];
    int n_ops;
    int64_t strides[OU_MAX_OPERANDS][IR_MAX_RANK];
    int64_t base[OU_MAX_OPERANDS];
} OuLoop;

/* Simplifies the nest in place (drop 1-dims, merge contiguous dims). */
void ou_loop_simplify(OuLoop *l);
/* Opens the loops (variables i0, i1, ...; a plain block when the nest has no dim left)
 * and writes each operand's index expression into idx[k] (e.g. "i0 * 12 + i1").  Close
 * with ou_loop_close. */
void ou_loop_open(Emitter *e, const OuLoop *l, char idx[][256]);
void ou_loop_close(Emitter *e, const OuLoop *l);
/* Operand o's index expression over the loop variables i0, i1, ... (s holds 256 bytes). */
void ou_loop_index(const OuLoop *l, int o, char *s);
/* The same for any variables: base + var0 * strides[0] + var1 * strides[1] + ... over
 * `rank` variables named var followed by their dim (zero strides left out; "0" when
 * nothing is left).  s holds 256 bytes. */
void ou_index_expr(char *s, int rank, const int64_t *strides, int64_t base, const char *var);

/* x seen as [outer][len][inner] around `axis` (len = dims[axis]; outer and inner the
 * products of the dims before and after it). */
void ou_axis_split(const Value *x, int axis, int64_t *outer, int64_t *len, int64_t *inner);
/* Index of operand k for the flat position pos (row-major over l->dims). */
int64_t ou_loop_offset(const OuLoop *l, int k, int64_t pos);
/* Row-major strides of an operand of rank r_in broadcast (right-aligned) to out_rank. */
void ou_bcast_strides(const Value *v, int out_rank, int64_t *strides);

/* Copies element si of src to element di of dst, elements of es bytes (folding). */
void ou_copy_elems(void *dst, int64_t di, const void *src, int64_t si, size_t es);

/* Emits `if (y0 != x0) memcpy(y0, x0, NBYTES);` (alias ops) with a shape comment. */
void ou_emit_alias_copy(Emitter *e, const Node *n);
/* The whole emitter of an alias op (Identity, Reshape, Flatten, Squeeze, Unsqueeze). */
bool ou_emit_alias(Emitter *e, const Node *n, Diag *d);
/* Folds an alias op: output 0 gets a copy of input 0's data. */
bool ou_fold_copy(Graph *g, Node *n, Diag *d);

/* Emitted code for half types (float16 / bfloat16 held as uint16_t bits), through the
 * conversions of onnxcc_lowp.h (which the generated code includes):
 * ou_emit_half_load declares `float dst` holding the value of the bits `src`;
 * ou_emit_half_store rounds the float expression `src` to nearest even into lvalue `dst`;
 * the _fn functions name the conversion for expressions of one's own. */
void ou_emit_half_load(Emitter *e, DType t, const char *dst, const char *src);
void ou_emit_half_store(Emitter *e, DType t, const char *dst, const char *src);
const char *ou_half_to_float_fn(DType t);   /* "onnxcc_f16_to_float" / bf16 */
/* For emitters that compute in a wider C type (float for half types, double...):
 * ou_emit_load declares `ctype dst` holding element src of type t (half bits converted);
 * ou_emit_store writes the number var into lvalue dst of type t (rounded for half types);
 * ou_emit_round rounds the float/double variable var to half type t in place, as a
 * reference computing in that type does (nothing for other types). */
void ou_emit_load(Emitter *e, DType t, const char *ctype, const char *dst, const char *src);
void ou_emit_store(Emitter *e, DType t, const char *dst, const char *var);
void ou_emit_round(Emitter *e, DType t, const char *var);
const char *ou_float_to_half_fn(DType t);   /* "onnxcc_float_to_f16" / bf16 */
static inline bool ou_is_half(DType t) { return t == DT_FLOAT16 || t == DT_BFLOAT16; }

/* Low-precision types (dtype_is_lowp: float8s, float4e2m1, int4/uint4, int2/uint2), held
 * one element per byte.  The conversion rules live in runtime/include/onnxcc_lowp.h, which
 * both the compiler and the generated code (through onnxcc_rt.h) include, so folding and
 * generated code agree bit for bit; ou_get_f64/ou_set_f64 use these too (saturating).
 * ou_lowp_get: element i of data (dtype t) as a double (exact).
 * ou_lowp_set: stores x converted to t: float types round x to float, then to nearest
 *   even (saturate: Cast's attribute), integer types truncate and wrap.
 * ou_lowp_set_int: stores the integer x wrapped to t, which must be int4, uint4, int2 or
 *   uint2. */
double ou_lowp_get(DType t, const void *data, int64_t i);
void   ou_lowp_set(DType t, void *data, int64_t i, double x, bool saturate);
void   ou_lowp_set_int(DType t, void *data, int64_t i, int64_t x);
/* Emitted code: a float expression for the element `src` of type t (writes into buf);
 * and a statement storing the double/float expression src into lvalue dst of type t. */
const char *ou_lowp_load_expr(char *buf, size_t size, DType t, const char *src);
void ou_emit_lowp_store(Emitter *e, DType t, const char *dst, const char *src, bool saturate);

/* Emits `acc += term` for j in [0, count), where each step first declares
 * `const T v = load;` (load and term may use the index `j`); acc must be declared.  Long
 * loops use 16 partial sums so that the emitted C vectorises (reductions, normalisation). */
void ou_emit_sum_loop(Emitter *e, const char *T, const char *acc, int64_t count,
                      const char *load, const char *term);

/* "float[2][3]" of a value, for comments in emitted code. */
const char *ou_shape(char *buf, size_t size, const Value *v);
/* A C literal for value x of dtype t (float, double, integers, bool, half bits). */
const char *ou_literal(char *buf, DType t, double x, int64_t xi);

/* An elementwise-style emitter's prologue: when n's first output has no elements, emits
 * a body that only marks x0 and y0 used and returns true (the emitter is then done). */
bool ou_emit_if_empty(Emitter *e, const Node *n);

/* The scatter ops' `reduction` attribute (ScatterElements, ScatterND): how an update
 * meets the element it addresses. */
typedef enum OuScatterRed {
    OU_SCATTER_NONE, OU_SCATTER_ADD, OU_SCATTER_MUL, OU_SCATTER_MAX, OU_SCATTER_MIN
} OuScatterRed;
/* Reads it (default none); false + d for another value, or for a reduction other than
 * none on input 0 of a low-precision type. */
bool ou_scatter_reduction(const Node *n, OuScatterRed *r, Diag *d);
/* Folding: y[at] = update u[from] combined into y[at] (integers wrap). */
void ou_scatter_fold(Value *y, int64_t at, const Value *u, int64_t from, OuScatterRed r);
/* Emits `*to` combined with `u` (both of dtype t, already declared). */
void ou_emit_scatter_update(Emitter *e, DType t, OuScatterRed r);

#endif
