/* Base64 for the etcd JSON gateway, which carries keys and values as base64 strings. */
#include <string.h>

#include "cluster/etcd.h"

static const char ALPHABET[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int vs_base64_encode(const void *in, size_t n, char *out, size_t cap)
{
    const uint8_t *p = in;
    size_t need = 4 * ((n + 2) / 3) + 1, o = 0;
    if (cap < need) return -1;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0) | (i + 2 < n ? p[i + 2] : 0);
        out[o++] = ALPHABET[v >> 18 & 63];
        out[o++] = ALPHABET[v >> 12 & 63];
        out[o++] = i + 1 < n ? ALPHABET[v >> 6 & 63] : '=';
        out[o++] = i + 2 < n ? ALPHABET[v & 63] : '=';
    }
    out[o] = '\0';
    return 0;
}

static int value_of(char c)
{
    const char *at = c ? strchr(ALPHABET, c) : NULL;
    return at ? (int)(at - ALPHABET) : -1;
}

long vs_base64_decode(const char *in, size_t n, uint8_t *out, size_t cap)
{
    if (n % 4) return -1;
    size_t o = 0;
    for (size_t i = 0; i < n; i += 4) {
        int pad = (in[i + 3] == '=') + (in[i + 2] == '=');
        if (pad && i + 4 != n) return -1;
        if (in[i + 2] == '=' && in[i + 3] != '=') return -1;
        int a = value_of(in[i]), b = value_of(in[i + 1]);
        int c = pad >= 2 ? 0 : value_of(in[i + 2]), d = pad >= 1 ? 0 : value_of(in[i + 3]);
        if (a < 0 || b < 0 || c < 0 || d < 0) return -1;
        uint32_t v = (uint32_t)a << 18 | (uint32_t)b << 12 | (uint32_t)c << 6 | (uint32_t)d;
        size_t emit = 3 - (size_t)pad;
        if (o + emit > cap) return -1;
        out[o++] = (uint8_t)(v >> 16);
        if (emit > 1) out[o++] = (uint8_t)(v >> 8);
        if (emit > 2) out[o++] = (uint8_t)v;
    }
    return (long)o;
}
