/* Reading document files for `vecscale build` (cJSON; one object per line or one array). */
#include "cli/docs_input.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "embed/json_file.h"
#include "embed/utf8.h"
#include "vecscale.h"

/* IDs above 2^53 do not survive a JSON number (a double) exactly. */
#define MAX_JSON_INT 9007199254740992.0

typedef struct {
    cli_docs *d;
    const char *path;
    size_t cap;
    int64_t *int_id; /* per document: the integer the "id" names (number or canonical string), or -1 */
} reader;

static int ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcmp(s + a - b, suf);
}

int cli_wants_documents(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        if ((!strcmp(argv[i], "--input") || !strcmp(argv[i], "-i")) && i + 1 < argc) v = argv[i + 1];
        else if (!strncmp(argv[i], "--input=", 8)) v = argv[i] + 8;
        if (v && (ends_with(v, ".json") || ends_with(v, ".jsonl"))) return 1;
    }
    return 0;
}

int cli_wants_text_query(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--query") || !strncmp(argv[i], "--query=", 8)) return 1;
    return 0;
}

const char *cli_docs_where(const cli_docs *d, size_t i, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s %zu", d->jsonl ? "line" : "document", d->where[i]);
    return buf;
}

static int complain(reader *r, size_t where, const char *msg)
{
    fprintf(stderr, "vecscale: %s %s %zu: %s\n", r->path, r->d->jsonl ? "line" : "document", where, msg);
    return 1;
}

static int grow(reader *r)
{
    cli_docs *d = r->d;
    if (d->n < r->cap) return 0;
    size_t nc = r->cap ? 2 * r->cap : 1024;
    char **t = realloc(d->text, nc * sizeof *t);
    if (t) d->text = t;
    char **m = t ? realloc(d->metadata, nc * sizeof *m) : NULL;
    if (m) d->metadata = m;
    size_t *w = m ? realloc(d->where, nc * sizeof *w) : NULL;
    if (w) d->where = w;
    int64_t *ii = w ? realloc(r->int_id, nc * sizeof *ii) : NULL;
    if (ii) r->int_id = ii;
    char **k = ii ? realloc(d->keys, nc * sizeof *k) : NULL;
    if (k) d->keys = k;
    if (!k) return 1;
    r->cap = nc;
    return 0;
}

/* Takes one parsed document apart: text, id, and the remaining fields as printed JSON. */
static int add_doc(reader *r, cJSON *obj, size_t where)
{
    cli_docs *d = r->d;
    if (!cJSON_IsObject(obj)) return complain(r, where, "not a JSON object");
    cJSON *text = cJSON_DetachItemFromObjectCaseSensitive(obj, "text");
    cJSON *id = cJSON_DetachItemFromObjectCaseSensitive(obj, "id");
    int status = 0;
    if (!text)
        status = complain(r, where, "no \"text\" field");
    else if (!cJSON_IsString(text))
        status = complain(r, where, "\"text\" is not a string");
    else if (!text->valuestring[0])
        status = complain(r, where, "\"text\" is empty");
    else if (cJSON_GetObjectItemCaseSensitive(obj, "text") || cJSON_GetObjectItemCaseSensitive(obj, "id"))
        status = complain(r, where, "\"text\" or \"id\" appears twice");
    int is_int = cJSON_IsNumber(id) && id->valuedouble >= 0 && id->valuedouble < MAX_JSON_INT &&
                 id->valuedouble == (double)(int64_t)id->valuedouble;
    char key[32];
    const char *key_text = NULL; /* the id as text under the library's rule */
    int64_t as_int = -1;
    if (!status && id && !is_int && !cJSON_IsString(id))
        status = complain(r, where, "\"id\" must be a non-negative integer (below 2^53) or a string");
    if (!status && is_int) {
        snprintf(key, sizeof key, "%lld", (long long)id->valuedouble);
        key_text = key;
        as_int = (int64_t)id->valuedouble;
    } else if (!status && id) {
        key_text = id->valuestring;
        if (vs_collection_key_check(key_text, &as_int)) {
            char msg[400];
            snprintf(msg, sizeof msg, "\"id\": %s", vs_last_error());
            status = complain(r, where, msg);
        }
    }
    if (!status && grow(r)) status = complain(r, where, "out of memory");
    if (!status) {
        size_t i = d->n;
        d->where[i] = where;
        r->int_id[i] = as_int;
        d->keys[i] = key_text ? strdup(key_text) : NULL;
        d->text[i] = strdup(text->valuestring);
        d->metadata[i] = obj->child ? cJSON_PrintUnformatted(obj) : NULL;
        d->n++; /* counted now so that cli_docs_free releases what was allocated */
        if (!d->text[i] || (obj->child && !d->metadata[i]) || (key_text && !d->keys[i]))
            status = complain(r, where, "out of memory");
    }
    cJSON_Delete(text);
    cJSON_Delete(id);
    return status;
}

/* The line holding byte `at` of buf, for messages. */
static size_t line_of(const char *buf, size_t at)
{
    size_t line = 1;
    for (size_t i = 0; i < at; i++) line += buf[i] == '\n';
    return line;
}

/* cJSON, refusing trailing bytes other than whitespace (a second object on one line). */
static cJSON *parse_exact(const char *p, size_t len, size_t *error_at)
{
    const char *end = NULL;
    cJSON *v = cJSON_ParseWithLengthOpts(p, len, &end, 0);
    if (!v) {
        const char *e = cJSON_GetErrorPtr();
        *error_at = e && e >= p && e <= p + len ? (size_t)(e - p) : 0;
        return NULL;
    }
    while (end < p + len && (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n')) end++;
    if (end < p + len) {
        *error_at = (size_t)(end - p);
        cJSON_Delete(v);
        return NULL;
    }
    return v;
}

static int read_lines(reader *r, char *buf, size_t len)
{
    size_t line = 0;
    for (char *p = buf; p < buf + len;) {
        char *nl = memchr(p, '\n', (size_t)(buf + len - p));
        size_t l = nl ? (size_t)(nl - p) : (size_t)(buf + len - p);
        line++;
        size_t k = 0;
        while (k < l && (p[k] == ' ' || p[k] == '\t' || p[k] == '\r')) k++;
        if (k < l) { /* blank lines are skipped */
            size_t at;
            cJSON *obj = parse_exact(p, l, &at);
            if (!obj) {
                fprintf(stderr, "vecscale: %s line %zu: invalid JSON at column %zu\n", r->path, line, at + 1);
                return 1;
            }
            int status = add_doc(r, obj, line);
            cJSON_Delete(obj);
            if (status) return 1;
        }
        p += l + 1;
    }
    return 0;
}

static int read_array(reader *r, const char *buf, size_t len)
{
    size_t at;
    cJSON *arr = parse_exact(buf, len, &at);
    if (!arr) {
        fprintf(stderr, "vecscale: %s line %zu: invalid JSON\n", r->path, line_of(buf, at));
        return 1;
    }
    int status = 0;
    if (!cJSON_IsArray(arr)) {
        fprintf(stderr, "vecscale: %s: expected a JSON array of documents (one object per line: name it .jsonl)\n",
                r->path);
        status = 1;
    }
    size_t i = 0;
    cJSON *e;
    if (!status)
        cJSON_ArrayForEach(e, arr)
        {
            if ((status = add_doc(r, e, ++i))) break;
        }
    cJSON_Delete(arr);
    return status;
}

typedef struct {
    const char *s;
    size_t at;
} key;

static int cmp_key(const void *a, const void *b)
{
    const key *x = a, *y = b;
    int c = strcmp(x->s, y->s);
    return c ? c : (x->at > y->at) - (x->at < y->at);
}

/* Refuses duplicate ids, naming both places (an integer and its canonical string are one id:
 * both are its decimal text here), then numbers the documents without "id". */
static int assign_ids(reader *r)
{
    cli_docs *d = r->d;
    key *k = malloc((d->n ? d->n : 1) * sizeof *k);
    if (!k) {
        fprintf(stderr, "vecscale: out of memory\n");
        return 1;
    }
    size_t nk = 0;
    int64_t max_int = -1;
    for (size_t i = 0; i < d->n; i++) {
        if (d->keys[i]) k[nk++] = (key){.s = d->keys[i], .at = i};
        if (r->int_id[i] > max_int) max_int = r->int_id[i];
    }
    qsort(k, nk, sizeof *k, cmp_key);
    int status = 0;
    for (size_t j = 1; j < nk && !status; j++) {
        if (strcmp(k[j].s, k[j - 1].s)) continue;
        char a[64], b[64];
        fprintf(stderr, "vecscale: %s: duplicate id %s%s%s (%s and %s)\n", r->path, r->int_id[k[j].at] < 0 ? "\"" : "",
                k[j].s, r->int_id[k[j].at] < 0 ? "\"" : "", cli_docs_where(d, k[j - 1].at, a, sizeof a),
                cli_docs_where(d, k[j].at, b, sizeof b));
        status = 1;
    }
    free(k);
    /* Numbered here rather than by the library, so they cannot collide with a later batch's ids. */
    for (size_t i = 0; i < d->n && !status; i++) {
        if (d->keys[i]) continue;
        char t[32];
        snprintf(t, sizeof t, "%lld", (long long)++max_int);
        if (!(d->keys[i] = strdup(t))) {
            fprintf(stderr, "vecscale: out of memory\n");
            status = 1;
        }
        d->n_auto++;
    }
    return status;
}

int cli_docs_read(const char *path, cli_docs *d)
{
    memset(d, 0, sizeof *d);
    d->jsonl = ends_with(path, ".jsonl");
    reader r = {.d = d, .path = path};
    char *buf;
    size_t len;
    if (vs_read_file(path, (size_t)8 << 30, &buf, &len)) {
        fprintf(stderr, "vecscale: %s\n", vs_last_error());
        return 1;
    }
    size_t bad = vs_utf8_invalid_at(buf, len);
    int status = 0;
    if (bad != len) {
        fprintf(stderr, "vecscale: %s line %zu: invalid UTF-8 (byte %zu)\n", path, line_of(buf, bad), bad);
        status = 1;
    }
    if (!status) status = d->jsonl ? read_lines(&r, buf, len) : read_array(&r, buf, len);
    free(buf);
    if (!status && d->n == 0) {
        fprintf(stderr, "vecscale: %s: no documents\n", path);
        status = 1;
    }
    if (!status) status = assign_ids(&r);
    free(r.int_id);
    if (status) cli_docs_free(d);
    return status;
}

/* Metadata strings come from cJSON or malloc; cJSON_free is free() with default hooks. */
void cli_docs_free(cli_docs *d)
{
    for (size_t i = 0; i < d->n; i++) {
        free(d->text[i]);
        free(d->metadata[i]);
        free(d->keys[i]);
    }
    free(d->text);
    free(d->metadata);
    free(d->keys);
    free(d->where);
    memset(d, 0, sizeof *d);
}
