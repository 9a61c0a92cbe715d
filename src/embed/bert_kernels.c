/* Baseline copy of the BERT kernels and the CPUID choice between it and the AVX2 copy. */
#define KFN(name) base_##name
#include "embed/bert_kernels_impl.h"

#include <stdlib.h>
#include <string.h>

const vs_bert_kernels *vs_bert_kernels_base(void) { return &base_table; }

const vs_bert_kernels *vs_bert_kernels_get(void)
{
    /* VECSCALE_SIMD=scalar (as for the distance kernels) keeps the baseline copy. */
    const char *env = getenv("VECSCALE_SIMD");
    if (env && !strcmp(env, "scalar")) return &base_table;
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return vs_bert_kernels_avx2();
    return &base_table;
}
