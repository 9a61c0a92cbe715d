/* vs_model_pull: a model from a Hugging Face hub-style server (or a mirror serving the same
 * layout) with libcurl. Files land as NAME.part first; an interrupted download resumes with an
 * HTTP Range request; the size and SHA-256 from the hub's file listing (its "lfs" entries) are
 * checked before the .part file is fsync'd and renamed into place. Every transfer has a
 * connect timeout and a stall timeout; nothing here starts a thread. */
#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/options.h"
#include "embed/json_file.h"
#include "embed/model.h"
#include "http/http_client.h"

/* What a sentence-transformers BERT directory needs (weights in safetensors only). */
static const struct {
    const char *name;
    int required;
} WANTED[] = {
    {"config.json", 1},          {"model.safetensors", 1},      {"tokenizer.json", 0},
    {"vocab.txt", 0},            {"tokenizer_config.json", 0},  {"special_tokens_map.json", 0},
    {"modules.json", 0},         {"sentence_bert_config.json", 0}, {"1_Pooling/config.json", 0},
    {"config_sentence_transformers.json", 0},
};
#define N_WANTED (sizeof WANTED / sizeof WANTED[0])

typedef struct {
    long long size; /* -1 unknown */
    char sha256[65]; /* "" unknown */
    int listed;
} file_info;

static int valid_repo(const char *r)
{
    const char *slash = strchr(r, '/');
    if (!slash || slash == r || !slash[1] || strchr(slash + 1, '/') || strstr(r, "..") || strlen(r) > 200) return 0;
    for (const char *p = r; *p; p++)
        if (!isalnum((unsigned char)*p) && !strchr("-_./", *p)) return 0;
    return 1;
}

/* The listing, in memory up to a limit (a hub answering without end is cut off). */
typedef struct {
    vs_buf b;
    size_t limit;
} listing_buf;

static size_t to_mem(char *p, size_t sz, size_t nm, void *ctx)
{
    listing_buf *m = ctx;
    size_t add = sz * nm;
    if (m->b.len + add > m->limit || vs_buf_append(&m->b, p, add)) return 0; /* aborts the transfer */
    return add;
}

/* Connect and stall bounds (no total: a model file may take long on a slow link), redirects
 * (the hub sends downloads to a CDN). */
static void common_opts(CURL *c, const char *url, long timeout_s, char *errbuf)
{
    vs_http_timeouts to = {.connect_ms = timeout_s * 1000, .stall_s = timeout_s};
    vs_http_setup(c, url, &to, errbuf);
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "vecscale/" "0.1");
}

/* The hub's listing: GET {endpoint}/api/models/{repo}/revision/{rev}?blobs=true. */
static int fetch_listing(const char *endpoint, const char *repo, const char *rev, long timeout_s,
                         struct curl_slist *hdrs, file_info *info)
{
    char url[2048], err[CURL_ERROR_SIZE] = "";
    snprintf(url, sizeof url, "%s/api/models/%s/revision/%s?blobs=true", endpoint, repo, rev);
    CURL *c = NULL;
    int rc = vs_http_easy(&c);
    if (rc) return rc;
    listing_buf m = {.limit = 16 << 20};
    common_opts(c, url, timeout_s, err);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, to_mem);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &m);
    CURLcode cc = curl_easy_perform(c);
    long status = vs_http_status(c);
    curl_easy_cleanup(c);
    if (cc != CURLE_OK)
        rc = vs_fail(VS_ERR_IO, "%s: %s", url, vs_http_strerror(cc, err));
    else if (status == 404 || status == 401)
        rc = vs_fail(VS_ERR_NOT_FOUND, "%s: model '%s' (revision %s) not found on %s (HTTP %ld)", url, repo, rev,
                     endpoint, status);
    else if (status != 200)
        rc = vs_fail(VS_ERR_IO, "%s: HTTP %ld", url, status);
    cJSON *j = rc ? NULL : cJSON_ParseWithLength(m.b.data ? m.b.data : "", m.b.len);
    vs_buf_free(&m.b);
    if (rc) return rc;
    const cJSON *sib = cJSON_GetObjectItemCaseSensitive(j, "siblings");
    if (!cJSON_IsArray(sib)) {
        cJSON_Delete(j);
        return vs_fail(VS_ERR_CORRUPT, "%s: the listing has no \"siblings\" array", url);
    }
    const cJSON *e;
    cJSON_ArrayForEach(e, sib)
    {
        int ok = 1;
        const char *name = vs_json_str(e, "rfilename", "", &ok);
        for (size_t i = 0; i < N_WANTED; i++) {
            if (strcmp(name, WANTED[i].name)) continue;
            info[i].listed = 1;
            const cJSON *sz = cJSON_GetObjectItemCaseSensitive(e, "size");
            if (cJSON_IsNumber(sz) && sz->valuedouble >= 0) info[i].size = (long long)sz->valuedouble;
            const cJSON *lfs = cJSON_GetObjectItemCaseSensitive(e, "lfs");
            const char *sha = vs_json_str(lfs, "sha256", "", &ok);
            if (strlen(sha) == 64) snprintf(info[i].sha256, sizeof info[i].sha256, "%s", sha);
            const cJSON *lsz = cJSON_GetObjectItemCaseSensitive(lfs, "size");
            if (cJSON_IsNumber(lsz) && lsz->valuedouble >= 0) info[i].size = (long long)lsz->valuedouble;
        }
    }
    cJSON_Delete(j);
    return VS_OK;
}

static int sha256_file(const char *path, char hex[65])
{
    FILE *f = fopen(path, "rb");
    if (!f) return vs_fail(VS_ERR_IO, "open %s: %s", path, strerror(errno));
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned char buf[1 << 16], md[32];
    unsigned mdlen = 0;
    int ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
    size_t got;
    while (ok && (got = fread(buf, 1, sizeof buf, f)) > 0) ok = EVP_DigestUpdate(ctx, buf, got);
    ok = ok && !ferror(f) && EVP_DigestFinal_ex(ctx, md, &mdlen);
    EVP_MD_CTX_free(ctx);
    fclose(f);
    if (!ok) return vs_fail(VS_ERR_IO, "sha256 of %s failed", path);
    for (int i = 0; i < 32; i++) snprintf(hex + 2 * i, 3, "%02x", md[i]);
    return VS_OK;
}

static int mkdirs(const char *dir)
{
    char p[4096];
    snprintf(p, sizeof p, "%s", dir);
    for (char *s = p + 1; *s; s++)
        if (*s == '/') {
            *s = 0;
            if (mkdir(p, 0755) != 0 && errno != EEXIST) return vs_fail(VS_ERR_IO, "mkdir %s: %s", p, strerror(errno));
            *s = '/';
        }
    if (mkdir(p, 0755) != 0 && errno != EEXIST) return vs_fail(VS_ERR_IO, "mkdir %s: %s", p, strerror(errno));
    return VS_OK;
}

typedef struct {
    FILE *f;
    long status;
    int header_seen;
    CURL *c;
    const vs_model_pull_options *o;
    const char *name;
    long long have, total;
} dl_ctx;

static size_t to_file(char *p, size_t sz, size_t nm, void *ctx)
{
    dl_ctx *d = ctx;
    if (!d->header_seen) { /* a 200 to a Range request restarts the file: drop what we had */
        curl_easy_getinfo(d->c, CURLINFO_RESPONSE_CODE, &d->status);
        d->header_seen = 1;
        if (d->status == 200 && d->have > 0) {
            if (ftruncate(fileno(d->f), 0) != 0 || fseek(d->f, 0, SEEK_SET) != 0) return 0;
            d->have = 0;
        }
        if (d->status != 200 && d->status != 206) return 0;
    }
    size_t w = fwrite(p, sz, nm, d->f);
    d->have += (long long)(w * sz);
    if (d->o && d->o->progress) d->o->progress(d->name, (uint64_t)d->have, d->total > 0 ? (uint64_t)d->total : 0, d->o->ctx);
    return w * sz;
}

/* Downloads one file to dest/name via dest/name.part (resuming it). 1 = absent (404). */
static int download(const char *endpoint, const char *repo, const char *rev, const char *dest, const char *name,
                    const file_info *fi, const vs_model_pull_options *o, long timeout_s, struct curl_slist *hdrs)
{
    char url[2048], path[4200], part[4300], err[CURL_ERROR_SIZE] = "";
    snprintf(url, sizeof url, "%s/%s/resolve/%s/%s", endpoint, repo, rev, name);
    snprintf(path, sizeof path, "%s/%s", dest, name);
    snprintf(part, sizeof part, "%s.part", path);
    char *slash = strrchr(path, '/');
    *slash = 0;
    int rc = mkdirs(path);
    *slash = '/';
    if (rc) return rc;
    struct stat st;
    if (fi->size >= 0 && stat(path, &st) == 0 && st.st_size == fi->size) { /* already here: verify only */
        char hex[65];
        if (!fi->sha256[0]) return VS_OK;
        if ((rc = sha256_file(path, hex))) return rc;
        if (!strcmp(hex, fi->sha256)) return VS_OK;
    }
    FILE *f = fopen(part, "ab");
    if (!f) return vs_fail(VS_ERR_IO, "open %s: %s", part, strerror(errno));
    long long have = ftell(f);
    if (fi->size >= 0 && have > fi->size) { /* longer than the file: start again */
        if (ftruncate(fileno(f), 0) != 0) have = -1;
        else have = 0;
    }
    CURL *c = NULL;
    if (have < 0 || vs_http_easy(&c)) {
        fclose(f);
        if (c) curl_easy_cleanup(c);
        return have < 0 ? vs_fail(VS_ERR_IO, "%s: cannot start the download", part) : VS_ERR_NOMEM;
    }
    dl_ctx d = {.f = f, .c = c, .o = o, .name = name, .have = have, .total = fi->size};
    common_opts(c, url, timeout_s, err);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, to_file);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &d);
    if (have > 0 && (fi->size < 0 || have < fi->size)) curl_easy_setopt(c, CURLOPT_RESUME_FROM_LARGE, (curl_off_t)have);
    CURLcode cc = CURLE_OK;
    long status = 200;
    if (!(fi->size >= 0 && have == fi->size)) {
        cc = curl_easy_perform(c);
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    }
    curl_easy_cleanup(c);
    int flushed = fflush(f) == 0 && fsync(fileno(f)) == 0;
    fclose(f);
    if (status == 404) {
        unlink(part);
        return 1;
    }
    if (status == 416) { /* Range past the end: the .part is complete (or stale) */
        cc = CURLE_OK;
        status = 206;
    }
    if (cc != CURLE_OK && status != 200 && status != 206 && status != 0)
        return vs_fail(status == 401 || status == 403 ? VS_ERR_NOT_FOUND : VS_ERR_IO, "%s: HTTP %ld", url, status);
    if (cc != CURLE_OK)
        return vs_fail(VS_ERR_IO, "%s: %s (%lld bytes kept in %s; run again to resume)", url,
                       vs_http_strerror(cc, err), d.have, part);
    if (!flushed) return vs_fail(VS_ERR_IO, "write %s: %s", part, strerror(errno));
    if (stat(part, &st) != 0) return vs_fail(VS_ERR_IO, "stat %s: %s", part, strerror(errno));
    if (fi->size >= 0 && st.st_size != fi->size) {
        if (st.st_size > fi->size) unlink(part);
        return vs_fail(VS_ERR_CORRUPT, "%s: %lld bytes, the listing says %lld%s", url, (long long)st.st_size, fi->size,
                       st.st_size < fi->size ? " (run again to resume)" : "");
    }
    if (fi->sha256[0]) {
        char hex[65];
        if ((rc = sha256_file(part, hex))) return rc;
        if (strcmp(hex, fi->sha256)) {
            unlink(part);
            return vs_fail(VS_ERR_CORRUPT, "%s: sha256 mismatch (got %s, the listing says %s); the download was deleted",
                           url, hex, fi->sha256);
        }
    }
    if (rename(part, path) != 0) return vs_fail(VS_ERR_IO, "rename %s: %s", part, strerror(errno));
    *slash = 0;
    int dfd = open(path, O_RDONLY | O_DIRECTORY);
    *slash = '/';
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    return VS_OK;
}

void vs_model_pull_options_init(vs_model_pull_options *o)
{
    if (!o) return;
    memset(o, 0, sizeof *o);
    o->struct_size = sizeof *o;
    o->timeout_s = 30;
}

int vs_model_pull(const char *repo, const vs_model_pull_options *opts, char *out_dir, size_t cap)
{
    VS_READ_OPTIONS(vs_model_pull_options, o, opts, VS_MODEL_PULL_OPTIONS_V1);
    if (!repo || !valid_repo(repo))
        return vs_fail(VS_ERR_INVALID_ARG, "'%s' is not a model name of the form owner/name", repo ? repo : "(null)");
    const char *endpoint = o.endpoint ? o.endpoint : getenv("HF_ENDPOINT");
    if (!endpoint || !*endpoint) endpoint = "https://huggingface.co";
    const char *rev = o.revision && *o.revision ? o.revision : "main";
    if (strchr(rev, '/') || strstr(rev, "..")) return vs_fail(VS_ERR_INVALID_ARG, "bad revision '%s'", rev);
    const char *dir = o.dest_dir;
    if (!dir || !*dir) dir = getenv("VECSCALE_MODEL_DIR");
    if (!dir || !*dir) return vs_fail(VS_ERR_INVALID_ARG, "no destination: pass dest_dir or set VECSCALE_MODEL_DIR");
    long timeout_s = o.timeout_s > 0 ? o.timeout_s : 30;
    char dest[4096];
    int w = snprintf(dest, sizeof dest, "%s/%s", dir, repo);
    if (w < 0 || (size_t)w >= sizeof dest - 64) return vs_fail(VS_ERR_INVALID_ARG, "destination path too long");
    int rc = vs_http_init();
    if (rc) return rc;
    struct curl_slist *hdrs = NULL;
    const char *token = getenv("HF_TOKEN");
    if (token && *token) {
        char h[1024];
        snprintf(h, sizeof h, "Authorization: Bearer %s", token);
        hdrs = curl_slist_append(NULL, h);
    }
    file_info info[N_WANTED];
    for (size_t i = 0; i < N_WANTED; i++) info[i] = (file_info){.size = -1};
    rc = fetch_listing(endpoint, repo, rev, timeout_s, hdrs, info);
    if (!rc) rc = mkdirs(dest);
    int have_tok = 0;
    for (size_t i = 0; !rc && i < N_WANTED; i++) {
        if (!info[i].listed) {
            if (WANTED[i].required)
                rc = vs_fail(VS_ERR_NOT_FOUND, "model '%s' has no %s (only safetensors weights are read)", repo,
                             WANTED[i].name);
            continue;
        }
        int r = download(endpoint, repo, rev, dest, WANTED[i].name, &info[i], &o, timeout_s, hdrs);
        if (r == 1) r = vs_fail(VS_ERR_NOT_FOUND, "%s/resolve/%s/%s: listed but HTTP 404", repo, rev, WANTED[i].name);
        rc = r;
        if (!rc && (!strcmp(WANTED[i].name, "tokenizer.json") || !strcmp(WANTED[i].name, "vocab.txt"))) have_tok = 1;
    }
    if (!rc && !have_tok) rc = vs_fail(VS_ERR_NOT_FOUND, "model '%s' has neither tokenizer.json nor vocab.txt", repo);
    curl_slist_free_all(hdrs);
    if (!rc && out_dir && cap) snprintf(out_dir, cap, "%s", dest);
    return rc;
}
