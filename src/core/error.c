/* Thread-local last-error storage, the static names of error codes, and the version. */
#include "core/error.h"

#include <stdarg.h>
#include <stdio.h>

static _Thread_local char last_message[512];

int vs_fail(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_message, sizeof last_message, fmt, ap);
    va_end(ap);
    return code;
}

void vs_clear_error(void) { last_message[0] = '\0'; }

const char *vs_last_error(void) { return last_message; }

const char *vs_strerror(int code)
{
    switch (code) {
    case VS_OK: return "VS_OK";
    case VS_ERR_INVALID_ARG: return "VS_ERR_INVALID_ARG";
    case VS_ERR_DIMENSION: return "VS_ERR_DIMENSION";
    case VS_ERR_NOMEM: return "VS_ERR_NOMEM";
    case VS_ERR_IO: return "VS_ERR_IO";
    case VS_ERR_CORRUPT: return "VS_ERR_CORRUPT";
    case VS_ERR_VERSION: return "VS_ERR_VERSION";
    case VS_ERR_UNSUPPORTED: return "VS_ERR_UNSUPPORTED";
    case VS_ERR_NOT_FOUND: return "VS_ERR_NOT_FOUND";
    case VS_ERR_DUPLICATE_ID: return "VS_ERR_DUPLICATE_ID";
    case VS_ERR_NOT_TRAINED: return "VS_ERR_NOT_TRAINED";
    case VS_ERR_EMPTY: return "VS_ERR_EMPTY";
    case VS_ERR_FACTORY: return "VS_ERR_FACTORY";
    case VS_ERR_NETWORK: return "VS_ERR_NETWORK";
    case VS_ERR_AUTH: return "VS_ERR_AUTH";
    case VS_ERR_CONFLICT: return "VS_ERR_CONFLICT";
    default: return "VS_ERR_UNKNOWN";
    }
}

int vs_version(int *major, int *minor, int *patch)
{
    if (major) *major = VS_VERSION_MAJOR;
    if (minor) *minor = VS_VERSION_MINOR;
    if (patch) *patch = VS_VERSION_PATCH;
    return VS_OK;
}

const char *vs_version_string(void) { return VS_VERSION_STRING; }
