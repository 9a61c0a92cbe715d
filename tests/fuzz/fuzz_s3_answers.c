/* libFuzzer harness for what the cluster code reads from an object store: snapshot manifests
 * (vs_manifest_decode) and S3's XML answers (listings, errors, upload IDs).
 * Byte 0 picks the parser (value % 4: manifest, listing, error + UploadId, cluster map); the
 * rest is the document. A manifest's checksum is rewritten first (fuzz_common.h), so its JSON
 * parser sees every input; vs_fuzz_s3_answers_stats counts the manifests. Built with
 * -DVS_FUZZ_NO_MAIN it only defines vs_fuzz_s3_answers, which the ctest test_fuzz_corpus
 * replays over tests/fuzz/corpus/s3_answers/. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/cluster_map.h"
#include "storage/s3_impl.h"
#include "storage/snapshot_manifest.h"
#include "core/error.h"
#include "fuzz_common.h"

int vs_fuzz_s3_answers(const uint8_t *data, size_t size);

vs_fuzz_stats vs_fuzz_s3_answers_stats;

static int count_cb(const vs_s3_object *o, void *ctx)
{
    if (!o->key || !*o->key || !o->etag) abort();
    ++*(size_t *)ctx;
    return 0;
}

static void manifest(const char *in, size_t len)
{
    vs_fuzz_stats *st = &vs_fuzz_s3_answers_stats;
    st->inputs++;
    char *buf = malloc(len ? len : 1); /* exact size: ASan sees a read past the end */
    if (!buf) return;
    if (len) memcpy(buf, in, len);
    int fixed = vs_fuzz_fix_manifest(buf, len);
    st->intact += fixed == 0;
    st->past_checksum += fixed >= 0;
    vs_snap_manifest m;
    vs_clear_error();
    int rc = vs_manifest_decode(buf, len, "fuzz", &m);
    if (rc != VS_OK) {
        if (rc >= 0 || !vs_last_error()[0] || m.files || m.n_files) abort();
        free(buf);
        return;
    }
    st->accepted++;
    for (size_t i = 0; i < m.n_files; i++)
        if (!vs_manifest_path_ok(m.files[i].path)) abort();
    /* What decodes must encode and decode back to the same thing. */
    char *out = NULL;
    size_t olen = 0;
    if (vs_manifest_encode(&m, &out, &olen) != VS_OK) abort();
    vs_snap_manifest back;
    if (vs_manifest_decode(out, olen, "re-encoded", &back) != VS_OK || back.n_files != m.n_files ||
        back.generation != m.generation)
        abort();
    for (size_t i = 0; i < m.n_files; i++)
        if (strcmp(back.files[i].path, m.files[i].path) || back.files[i].size != m.files[i].size ||
            memcmp(back.files[i].xxh128, m.files[i].xxh128, 16))
            abort();
    vs_manifest_clear(&back);
    vs_manifest_clear(&m);
    free(out);
    free(buf);
}

int vs_fuzz_s3_answers(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    const char *doc = (const char *)data + 1;
    size_t len = size - 1;
    switch (data[0] % 4) {
    case 3: {
        char *s = malloc(len + 1);
        if (!s) return 0;
        memcpy(s, doc, len);
        s[len] = '\0';
        vs_cluster_map m;
        if (vs_cluster_map_parse(s, &m) == VS_OK && (m.n_shards == 0 || m.n_shards > VS_CLUSTER_MAX_SHARDS)) abort();
        free(s);
        break;
    }
    case 0: manifest(doc, len); break;
    case 1: {
        size_t n = 0;
        int truncated = 0;
        char token[1024];
        int rc = vs_s3_xml_list(doc, len, count_cb, &n, &truncated, token, sizeof token);
        if (rc == VS_OK && truncated && !token[0]) abort();
        break;
    }
    case 2: {
        char code[128], msg[256], id[512];
        vs_s3_xml_error(doc, len, code, sizeof code, msg, sizeof msg);
        if (strlen(code) >= sizeof code || strlen(msg) >= sizeof msg) abort();
        vs_s3_xml_text(doc, len, "UploadId", id, sizeof id);
        break;
    }
    }
    return 0;
}

#ifndef VS_FUZZ_NO_MAIN
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) { return vs_fuzz_s3_answers(data, size); }
#endif
