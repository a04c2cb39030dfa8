/* rt_gemm.c: PLACEHOLDER, being written. */
#include "onnxcc_rt.h"
