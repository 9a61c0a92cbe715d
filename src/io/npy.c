/* NumPy .npy (format versions 1.0, 2.0, 3.0): header dict parsing and writing.
 * The header is a Python dict literal; it is parsed with a small bounded tokenizer rather
 * than string searches so key order, spacing, quoting and trailing commas do not matter. */
#include "io/npy.h"

#include <stdio.h>
#include <string.h>

#include "core/error.h"

#define NPY_MAX_DIM 65536u

static const uint8_t npy_magic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};

typedef struct {
    const char *p;
    const char *end;
    const char *name;
} cursor;

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

static void skip_ws(cursor *c)
{
    while (c->p < c->end && is_space(*c->p)) c->p++;
}

static int bad_header(const cursor *c, const char *what)
{
    return vs_fail(VS_ERR_CORRUPT, "%s: malformed .npy header: %s", c->name, what);
}

/* Parses a quoted Python string literal (no escapes: npy keys and descrs never need them). */
static int parse_str(cursor *c, const char **s, size_t *n)
{
    skip_ws(c);
    if (c->p >= c->end || (*c->p != '\'' && *c->p != '"'))
        return bad_header(c, "expected a quoted string");
    char q = *c->p++;
    const char *start = c->p;
    while (c->p < c->end && *c->p != q) {
        if (*c->p == '\n') break;
        if (*c->p == '\\') return bad_header(c, "escapes in strings are not supported");
        c->p++;
    }
    if (c->p >= c->end || *c->p != q) return bad_header(c, "unterminated string");
    *s = start;
    *n = (size_t)(c->p - start);
    c->p++;
    return VS_OK;
}

static int expect(cursor *c, char ch, const char *what)
{
    skip_ws(c);
    if (c->p >= c->end || *c->p != ch) return bad_header(c, what);
    c->p++;
    return VS_OK;
}

static int str_eq(const char *s, size_t n, const char *lit)
{
    return strlen(lit) == n && memcmp(s, lit, n) == 0;
}

static int parse_descr(cursor *c, vs_dtype *dtype)
{
    skip_ws(c);
    if (c->p < c->end && *c->p == '[')
        return vs_fail(VS_ERR_UNSUPPORTED, "%s: structured .npy dtypes are not supported "
                       "(supported: '<f4', '<i4', '|u1')", c->name);
    const char *s;
    size_t n;
    int rc = parse_str(c, &s, &n);
    if (rc) return rc;
    if (str_eq(s, n, "<f4")) *dtype = VS_DTYPE_F32;
    else if (str_eq(s, n, "<i4")) *dtype = VS_DTYPE_I32;
    else if (str_eq(s, n, "|u1") || str_eq(s, n, "<u1") || str_eq(s, n, ">u1"))
        *dtype = VS_DTYPE_U8; /* byte order is meaningless for one-byte types */
    else if (n > 0 && s[0] == '>')
        return vs_fail(VS_ERR_UNSUPPORTED, "%s: big-endian .npy dtype '%.*s' is not supported "
                       "(convert with arr.astype('<f4'))", c->name, (int)(n > 16 ? 16 : n), s);
    else
        return vs_fail(VS_ERR_UNSUPPORTED, "%s: .npy dtype '%.*s' is not supported "
                       "(supported: '<f4', '<i4', '|u1')", c->name, (int)(n > 16 ? 16 : n), s);
    return VS_OK;
}

static int parse_bool(cursor *c, int *v)
{
    skip_ws(c);
    size_t left = (size_t)(c->end - c->p);
    if (left >= 4 && memcmp(c->p, "True", 4) == 0) { *v = 1; c->p += 4; }
    else if (left >= 5 && memcmp(c->p, "False", 5) == 0) { *v = 0; c->p += 5; }
    else return bad_header(c, "fortran_order must be True or False");
    return VS_OK;
}

/* Shape tuple: "()", "(n,)", "(n, d)", ... with optional trailing comma and Python 2 'L'. */
static int parse_shape(cursor *c, size_t dims[3], int *ndim)
{
    int rc = expect(c, '(', "shape must be a tuple");
    if (rc) return rc;
    *ndim = 0;
    for (;;) {
        skip_ws(c);
        if (c->p < c->end && *c->p == ')') { c->p++; return VS_OK; }
        if (c->p >= c->end || *c->p < '0' || *c->p > '9')
            return bad_header(c, "shape entries must be non-negative integers");
        size_t v = 0;
        while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
            unsigned digit = (unsigned)(*c->p - '0');
            if (v > (SIZE_MAX - digit) / 10)
                return vs_fail(VS_ERR_CORRUPT, "%s: .npy shape entry is too large", c->name);
            v = v * 10 + digit;
            c->p++;
        }
        if (c->p < c->end && (*c->p == 'L' || *c->p == 'l')) c->p++;
        if (*ndim >= 3)
            return vs_fail(VS_ERR_UNSUPPORTED, "%s: .npy arrays with more than 2 dimensions are "
                           "not supported (shape must be (n,) or (n, d))", c->name);
        dims[(*ndim)++] = v;
        skip_ws(c);
        if (c->p < c->end && *c->p == ',') { c->p++; continue; }
        if (c->p < c->end && *c->p == ')') { c->p++; return VS_OK; }
        return bad_header(c, "expected ',' or ')' in shape");
    }
}

int vs_npy_parse_header(const uint8_t *buf, size_t len, const char *name, vs_npy_info *out)
{
    if (memcmp(buf, npy_magic, len < sizeof npy_magic ? len : sizeof npy_magic) != 0)
        return vs_fail(VS_ERR_CORRUPT, "%s: not a .npy file (bad magic, expected \\x93NUMPY)", name);
    if (len < 10)
        return vs_fail(VS_ERR_CORRUPT, "%s: truncated .npy header (%zu bytes)", name, len);
    uint8_t major = buf[6], minor = buf[7];
    size_t hlen, prefix;
    if (major == 1 && minor == 0) {
        hlen = (size_t)buf[8] | (size_t)buf[9] << 8;
        prefix = 10;
    } else if ((major == 2 || major == 3) && minor == 0) {
        if (len < 12) return vs_fail(VS_ERR_CORRUPT, "%s: truncated .npy header", name);
        hlen = (size_t)((uint32_t)buf[8] | (uint32_t)buf[9] << 8 | (uint32_t)buf[10] << 16 |
                        (uint32_t)buf[11] << 24);
        prefix = 12;
    } else if (major == 0) {
        return vs_fail(VS_ERR_CORRUPT, "%s: invalid .npy format version %u.%u", name, major, minor);
    } else {
        return vs_fail(VS_ERR_VERSION, "%s: .npy format version %u.%u is not supported "
                       "(supported: 1.0, 2.0, 3.0)", name, major, minor);
    }
    if (hlen > len - prefix)
        return vs_fail(VS_ERR_CORRUPT, "%s: .npy header length %zu exceeds the file size (%zu bytes)",
                       name, hlen, len);

    cursor c = {(const char *)buf + prefix, (const char *)buf + prefix + hlen, name};
    int have_descr = 0, have_fortran = 0, have_shape = 0, fortran = 0, ndim = 0;
    size_t dims[3] = {0, 0, 0};
    vs_dtype dtype = VS_DTYPE_F32;
    int rc = expect(&c, '{', "expected '{'");
    if (rc) return rc;
    for (;;) {
        skip_ws(&c);
        if (c.p < c.end && *c.p == '}') { c.p++; break; }
        const char *key;
        size_t klen;
        if ((rc = parse_str(&c, &key, &klen)) || (rc = expect(&c, ':', "expected ':' after key")))
            return rc;
        if (str_eq(key, klen, "descr")) {
            if (have_descr++) return bad_header(&c, "duplicate key 'descr'");
            rc = parse_descr(&c, &dtype);
        } else if (str_eq(key, klen, "fortran_order")) {
            if (have_fortran++) return bad_header(&c, "duplicate key 'fortran_order'");
            rc = parse_bool(&c, &fortran);
        } else if (str_eq(key, klen, "shape")) {
            if (have_shape++) return bad_header(&c, "duplicate key 'shape'");
            rc = parse_shape(&c, dims, &ndim);
        } else {
            return vs_fail(VS_ERR_CORRUPT, "%s: malformed .npy header: unexpected key '%.*s'", name,
                           (int)(klen > 32 ? 32 : klen), key);
        }
        if (rc) return rc;
        skip_ws(&c);
        if (c.p < c.end && *c.p == ',') { c.p++; continue; }
        if (c.p < c.end && *c.p == '}') { c.p++; break; }
        return bad_header(&c, "expected ',' or '}'");
    }
    /* NumPy pads with spaces (and, in old versions, NULs) up to a '\n'. */
    while (c.p < c.end && (is_space(*c.p) || *c.p == '\0')) c.p++;
    if (c.p != c.end) return bad_header(&c, "unexpected text after the dict");
    if (!have_descr || !have_fortran || !have_shape)
        return vs_fail(VS_ERR_CORRUPT, "%s: malformed .npy header: missing key '%s'", name,
                       !have_descr ? "descr" : !have_fortran ? "fortran_order" : "shape");
    if (fortran)
        return vs_fail(VS_ERR_UNSUPPORTED, "%s: Fortran-order .npy arrays are not supported "
                       "(save with np.ascontiguousarray)", name);
    if (ndim != 1 && ndim != 2)
        return vs_fail(VS_ERR_UNSUPPORTED, "%s: .npy array has %d dimensions; shape must be "
                       "(n,) or (n, d)", name, ndim);
    size_t n = dims[0], d = ndim == 2 ? dims[1] : 1;
    if (n == 0 || d == 0)
        return vs_fail(VS_ERR_EMPTY, "%s: .npy array is empty (shape %zu x %zu)", name, n, d);
    if (d > NPY_MAX_DIM)
        return vs_fail(VS_ERR_UNSUPPORTED, "%s: .npy dimension %zu exceeds the maximum of %u",
                       name, d, NPY_MAX_DIM);
    size_t esize = dtype == VS_DTYPE_U8 ? 1 : 4;
    size_t off = prefix + hlen;
    if (n > SIZE_MAX / d || n * d > SIZE_MAX / esize)
        return vs_fail(VS_ERR_CORRUPT, "%s: .npy shape (%zu, %zu) overflows the address space",
                       name, n, d);
    size_t bytes = n * d * esize;
    if (bytes > len - off)
        return vs_fail(VS_ERR_CORRUPT, "%s: truncated .npy data: shape (%zu, %zu) needs %zu bytes, "
                       "file has %zu", name, n, d, bytes, len - off);
    if (bytes < len - off)
        return vs_fail(VS_ERR_CORRUPT, "%s: .npy file has %zu unexpected bytes after the data",
                       name, len - off - bytes);
    out->dtype = dtype;
    out->n = n;
    out->dim = (uint32_t)d;
    out->data_offset = off;
    return VS_OK;
}

int vs_npy_format_header(vs_dtype dtype, size_t n, uint32_t dim, uint8_t *buf, size_t cap,
                         size_t *out_len)
{
    const char *descr = dtype == VS_DTYPE_F32 ? "<f4" : dtype == VS_DTYPE_I32 ? "<i4" : "|u1";
    char dict[128];
    int dn = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (%zu, %u), }",
                      descr, n, (unsigned)dim);
    if (dn < 0 || (size_t)dn >= sizeof dict)
        return vs_fail(VS_ERR_INVALID_ARG, "npy header too long");
    /* Pad with spaces so the data starts 64-byte aligned, as NumPy does. */
    size_t total = (10 + (size_t)dn + 1 + 63) / 64 * 64;
    if (total > cap) return vs_fail(VS_ERR_INVALID_ARG, "npy header buffer too small");
    size_t hlen = total - 10;
    memcpy(buf, npy_magic, 6);
    buf[6] = 1;
    buf[7] = 0;
    buf[8] = (uint8_t)(hlen & 0xff);
    buf[9] = (uint8_t)(hlen >> 8);
    memcpy(buf + 10, dict, (size_t)dn);
    memset(buf + 10 + dn, ' ', total - 10 - (size_t)dn - 1);
    buf[total - 1] = '\n';
    *out_len = total;
    return VS_OK;
}
