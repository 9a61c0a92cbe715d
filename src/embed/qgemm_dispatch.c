/* Which qgemm table runs: the active SIMD level (vs_simd_active: CPUID + XGETBV, lowered by
 * VECSCALE_SIMD or vs_simd_force) picks the family, the CPU's VNNI / BF16 / AMX flags the member
 * (AMX only once Linux has granted the tile state, qgemm_amx.c). */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "embed/qgemm_kernels.h"

static int has(int which)
{
    __builtin_cpu_init();
    switch (which) {
    case 0: return __builtin_cpu_supports("avx512vnni");
    case 1: return __builtin_cpu_supports("avxvnni");
    default: return __builtin_cpu_supports("avx512bf16");
    }
}

int vs_qgemm_bf16_supported(void) { return vs_simd_detected() >= VS_SIMD_AVX512 && has(0) && has(2); }

int vs_qgemm_bf16_offered(const vs_qgemm_kernels *k)
{
    if (!k || !k->linear_bf16) return 0;
    const char *forced_name = getenv("VECSCALE_QGEMM");
    return k == &vs_qgemm_amx || (forced_name && !strcmp(forced_name, k->name));
}

int vs_qgemm_kernels_usable(const vs_qgemm_kernels *k)
{
    vs_simd_level d = vs_simd_detected();
    if (k == &vs_qgemm_scalar) return 1;
    if (k == &vs_qgemm_avx2) return d >= VS_SIMD_AVX2;
    if (k == &vs_qgemm_avxvnni) return d >= VS_SIMD_AVX2 && has(1);
    if (k == &vs_qgemm_avx512) return d >= VS_SIMD_AVX512 && has(0) && has(2);
    if (k == &vs_qgemm_amx) return d >= VS_SIMD_AVX512 && vs_qgemm_amx_ready();
    if (k == &vs_qgemm_avx512_nobf16) return d >= VS_SIMD_AVX512 && has(0);
    return 0;
}

/* VECSCALE_QGEMM=<table name> (benchmarks: the AVX2 vpmaddubsw kernel on a VNNI machine, say)
 * picks a table below the automatic choice, if this CPU and the active level can run it. */
static const vs_qgemm_kernels *forced(vs_simd_level l)
{
    static const vs_qgemm_kernels *const all[] = {&vs_qgemm_scalar, &vs_qgemm_avx2, &vs_qgemm_avxvnni,
                                                  &vs_qgemm_avx512_nobf16, &vs_qgemm_avx512, &vs_qgemm_amx};
    static const vs_simd_level need[] = {VS_SIMD_SCALAR, VS_SIMD_AVX2, VS_SIMD_AVX2,
                                         VS_SIMD_AVX512, VS_SIMD_AVX512, VS_SIMD_AVX512};
    const char *name = getenv("VECSCALE_QGEMM");
    if (!name || !*name) return NULL;
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        if (!strcmp(name, all[i]->name) && l >= need[i] && vs_qgemm_kernels_usable(all[i])) return all[i];
    return NULL;
}

const vs_qgemm_kernels *vs_qgemm_kernels_get(void)
{
    vs_simd_level l = vs_simd_active();
    const vs_qgemm_kernels *f = forced(l);
    if (f) return f;
    if (l >= VS_SIMD_AVX512 && has(0)) {
        if (vs_qgemm_amx_ready()) return &vs_qgemm_amx;
        return has(2) ? &vs_qgemm_avx512 : &vs_qgemm_avx512_nobf16;
    }
    if (l >= VS_SIMD_AVX2) return has(1) ? &vs_qgemm_avxvnni : &vs_qgemm_avx2;
    return &vs_qgemm_scalar;
}
