/* AVX2 int8 kernel (built with -mavx2): vpmaddubsw on |a| (u8, at most 127) and w carrying a's
 * sign (vpsignb) adds product pairs into int16 that cannot saturate (see qgemm.h); vpmaddwd by
 * ones widens them to int32 sums of four. */
#define QDOT_SETUP const __m256i ones = _mm256_set1_epi16(1)
#define ROWPREP(v) _mm256_abs_epi8(v)
#define ROWPREP1(x) (uint8_t)((x) < 0 ? -(x) : (x))
/* ap: |a| broadcast, ao: a broadcast (its sign goes onto the weights) */
#define QDOT(acc, ap, ao, b) \
    _mm256_add_epi32((acc), _mm256_madd_epi16(_mm256_maddubs_epi16((ap), _mm256_sign_epi8((b), (ao))), ones))
#define COMP 0
#include "embed/qgemm_x86_256.h"

/* int8 models load as int16 here (wide): same speed per product, no split layers (qgemm.h) */
const vs_qgemm_kernels vs_qgemm_avx2 = {"avx2", quant_rows, linear_s8s8, NULL,
                                        vs_qgemm_avx2_quant_rows16, vs_qgemm_avx2_linear_s16, 1};
