/* Reading small JSON files (model configs, tokenizer.json) with cJSON. */
#ifndef VS_EMBED_JSON_FILE_H
#define VS_EMBED_JSON_FILE_H

#include <cjson/cJSON.h>
#include <stddef.h>

/* Reads a whole file (at most max_bytes) into a NUL-terminated malloc'd buffer. A missing
 * file is VS_ERR_NOT_FOUND. */
int vs_read_file(const char *path, size_t max_bytes, char **out, size_t *len);
/* Parses path as JSON into *out (free with cJSON_Delete); errors name the file and offset. */
int vs_json_load(const char *path, cJSON **out);
/* Field readers with defaults; *ok is cleared when a present field has the wrong type. */
int vs_json_bool(const cJSON *obj, const char *key, int dflt, int *ok);
long vs_json_int(const cJSON *obj, const char *key, long dflt, int *ok);
const char *vs_json_str(const cJSON *obj, const char *key, const char *dflt, int *ok);

#endif
