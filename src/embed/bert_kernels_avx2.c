/* AVX2+FMA copy of the BERT kernels (this file is compiled with -mavx2 -mfma). */
#define KFN(name) avx2_##name
#include "embed/bert_kernels_impl.h"

const vs_bert_kernels *vs_bert_kernels_avx2(void) { return &avx2_table; }
