/* AVX-VNNI int8 kernel (built with -mavx2 -mavxvnni): vpdpbusd (VEX encoding: Alder Lake,
 * Sapphire Rapids and later) on a + 128 as u8 and w, then 128 * wsum subtracted (qgemm.h). */
#define QDOT_SETUP (void)0
#define ROWPREP(v) _mm256_xor_si256((v), _mm256_set1_epi8((char)0x80))
#define ROWPREP1(x) (uint8_t)((x) ^ 0x80)
#define QDOT(acc, ap, ao, b) _mm256_dpbusd_avx_epi32((acc), (ap), (b))
#define COMP 1
#include "embed/qgemm_x86_256.h"

const vs_qgemm_kernels vs_qgemm_avxvnni = {"avx-vnni", quant_rows, linear_s8s8, NULL,
                                       vs_qgemm_avx2_quant_rows16, vs_qgemm_avx2_linear_s16, 0};
