/* Runtime SIMD selection. CPUID says what the CPU implements; XGETBV says whether the OS
 * saves the wider registers on context switch. Both are needed: a CPU flag without OS support
 * faults (#UD) on first use, and emulators such as valgrind report a subset. */
#include <cpuid.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <strings.h>

#include "core/error.h"
#include "kernels/kernels.h"

static const vs_kernel_table *const tables[3] = {
    &vs_kernels_scalar,
    &vs_kernels_avx2,
    &vs_kernels_avx512,
};

/* -1 = not yet computed. Racing initialisers compute the same value, so plain atomics suffice
 * (no pthread_once, and the hot path is a single acquire load). */
static atomic_int detected_level = -1;
static atomic_int active_level = -1;

static uint64_t read_xcr0(void)
{
    uint32_t lo, hi;
    /* Raw encoding of xgetbv: the intrinsic would need -mxsave for this file. */
    __asm__ volatile(".byte 0x0f, 0x01, 0xd0" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}

static int detect(void)
{
    unsigned eax, ebx, ecx, edx;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx))
        return VS_SIMD_SCALAR;
    const int osxsave = (ecx >> 27) & 1, avx = (ecx >> 28) & 1, fma = (ecx >> 12) & 1;
    if (!osxsave || !avx || !fma)
        return VS_SIMD_SCALAR;
    const uint64_t xcr0 = read_xcr0();
    if ((xcr0 & 0x6) != 0x6) /* XMM and YMM state */
        return VS_SIMD_SCALAR;
    if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx))
        return VS_SIMD_SCALAR;
    if (!((ebx >> 5) & 1)) /* AVX2 */
        return VS_SIMD_SCALAR;
    const unsigned avx512_bits = (1u << 16) | (1u << 17) | (1u << 30) | (1u << 31); /* F DQ BW VL */
    if ((ebx & avx512_bits) == avx512_bits && (xcr0 & 0xe6) == 0xe6) /* + opmask, ZMM hi */
        return VS_SIMD_AVX512;
    return VS_SIMD_AVX2;
}

vs_simd_level vs_simd_detected(void)
{
    int lvl = atomic_load_explicit(&detected_level, memory_order_acquire);
    if (lvl < 0) {
        lvl = detect();
        atomic_store_explicit(&detected_level, lvl, memory_order_release);
    }
    return (vs_simd_level)lvl;
}

/* VECSCALE_SIMD may lower the level, never raise it above what the CPU supports; unknown
 * values are ignored rather than failing, since there is no caller to report to. */
static int initial_level(void)
{
    const int det = (int)vs_simd_detected();
    const char *env = getenv("VECSCALE_SIMD");
    int want = det;
    if (env) {
        if (strcasecmp(env, "scalar") == 0)
            want = VS_SIMD_SCALAR;
        else if (strcasecmp(env, "avx2") == 0)
            want = VS_SIMD_AVX2;
        else if (strcasecmp(env, "avx512") == 0)
            want = VS_SIMD_AVX512;
    }
    return want < det ? want : det;
}

static int current_level(void)
{
    int lvl = atomic_load_explicit(&active_level, memory_order_acquire);
    if (lvl < 0) {
        int expected = -1, init = initial_level();
        /* Do not overwrite a concurrent vs_simd_force. */
        if (atomic_compare_exchange_strong_explicit(&active_level, &expected, init,
                                                    memory_order_acq_rel, memory_order_acquire))
            lvl = init;
        else
            lvl = expected;
    }
    return lvl;
}

const vs_kernel_table *vs_kernels(void) { return tables[current_level()]; }

const vs_kernel_table *vs_kernels_for(vs_simd_level level)
{
    if ((int)level < VS_SIMD_SCALAR || (int)level > VS_SIMD_AVX512)
        return NULL;
    if ((int)level > (int)vs_simd_detected())
        return NULL;
    return tables[level];
}

vs_simd_level vs_simd_active(void) { return (vs_simd_level)current_level(); }

int vs_simd_force(vs_simd_level level)
{
    if ((int)level < VS_SIMD_SCALAR || (int)level > VS_SIMD_AVX512)
        return vs_fail(VS_ERR_INVALID_ARG, "vs_simd_force: invalid SIMD level %d", (int)level);
    vs_simd_level det = vs_simd_detected();
    if ((int)level > (int)det)
        return vs_fail(VS_ERR_UNSUPPORTED,
                       "vs_simd_force: %s is not supported by this CPU/OS (best available: %s)",
                       vs_simd_name(level), vs_simd_name(det));
    atomic_store_explicit(&active_level, (int)level, memory_order_release);
    return VS_OK;
}

const char *vs_simd_name(vs_simd_level level)
{
    switch (level) {
    case VS_SIMD_SCALAR: return "scalar";
    case VS_SIMD_AVX2: return "avx2";
    case VS_SIMD_AVX512: return "avx512";
    default: return "unknown";
    }
}

float vs_l2sq(const float *a, const float *b, uint32_t d) { return vs_kernels()->l2sq(a, b, d); }

float vs_dot(const float *a, const float *b, uint32_t d) { return vs_kernels()->dot(a, b, d); }

float vs_norm_sq(const float *a, uint32_t d) { return vs_kernels()->norm_sq(a, d); }
