/* float16 / bfloat16 <-> float32 (model files store vectors as float16; safetensors may hold
 * either). Round-to-nearest-even on the way down. */
#ifndef VS_EMBED_HALF_H
#define VS_EMBED_HALF_H

#include <stdint.h>
#include <string.h>

static inline float vs_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = h >> 10 & 0x1F, man = h & 0x3FF, bits;
    if (exp == 0) {
        if (man == 0) bits = sign;
        else { /* subnormal: renormalise */
            exp = 127 - 15 + 1;
            while (!(man & 0x400)) { man <<= 1; exp--; }
            bits = sign | exp << 23 | (man & 0x3FF) << 13;
        }
    } else if (exp == 31) bits = sign | 0x7F800000u | man << 13;
    else bits = sign | (exp + 127 - 15) << 23 | man << 13;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

static inline uint16_t vs_f32_to_f16(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = x >> 16 & 0x8000;
    int32_t exp = (int32_t)(x >> 23 & 0xFF) - 127 + 15;
    uint32_t man = x & 0x7FFFFF;
    if ((x & 0x7FFFFFFF) > 0x7F800000u) return (uint16_t)(sign | 0x7E00); /* NaN */
    if (exp >= 31) return (uint16_t)(sign | 0x7C00);                       /* overflow: inf */
    if (exp <= 0) {                                                          /* subnormal or zero */
        if (exp < -10) return (uint16_t)sign;
        man |= 0x800000;
        uint32_t shift = (uint32_t)(14 - exp), half = 1u << (shift - 1);
        uint32_t r = man >> shift, rem = man & ((1u << shift) - 1);
        if (rem > half || (rem == half && (r & 1))) r++;
        return (uint16_t)(sign | r);
    }
    uint32_t r = (uint32_t)exp << 10 | man >> 13, rem = man & 0x1FFF;
    if (rem > 0x1000 || (rem == 0x1000 && (r & 1))) r++; /* may carry into the exponent: fine */
    return (uint16_t)(sign | r);
}

static inline float vs_bf16_to_f32(uint16_t h)
{
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

#endif
