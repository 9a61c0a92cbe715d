/* Baseline copy of the BERT kernels and the CPUID choice between it and the AVX2 copy. */
#define KFN(name) base_##name
#include "embed/bert_kernels_impl.h"

#include "vecscale.h"

const vs_bert_kernels *vs_bert_kernels_base(void) { return &base_table; }

const vs_bert_kernels *vs_bert_kernels_get(void)
{
    /* The distance kernels' level (CPUID + XGETBV, lowered by VECSCALE_SIMD or vs_simd_force):
     * its avx2 level implies AVX2 and FMA. */
    return vs_simd_active() >= VS_SIMD_AVX2 ? vs_bert_kernels_avx2() : &base_table;
}
