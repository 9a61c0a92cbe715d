/* vs_s3_put_file: a single PUT for small files, else a multipart upload (initiate, one PUT per
 * part read straight from the file, complete). Any failure aborts the upload so the store
 * does not keep (and bill) orphaned parts. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "storage/s3_impl.h"
#include "core/error.h"

#define MAX_PARTS 10000 /* S3's limit */

static int put_range(vs_s3 *s3, const char *bucket, const char *key, int fd, uint64_t off, uint64_t len,
                     const char *query, char *etag, size_t etag_cap)
{
    vs_s3_request r;
    vs_s3_request_init(&r, "PUT", bucket, key);
    r.fd = fd;
    r.fd_off = off;
    r.fd_len = len;
    r.query = query;
    int rc = vs_s3_perform(s3, &r, query ? "upload part" : "PUT");
    if (rc == VS_OK && etag) snprintf(etag, etag_cap, "%s", r.etag);
    return rc;
}

static void abort_upload(vs_s3 *s3, const char *bucket, const char *key, const char *query)
{
    vs_s3_request r;
    vs_s3_request_init(&r, "DELETE", bucket, key);
    r.query = query;
    vs_s3_perform(s3, &r, "abort multipart upload"); /* best effort: the real error is kept below */
}

int vs_s3_put_file(vs_s3 *s3, const char *bucket, const char *key, const char *path)
{
    if (!s3 || !key || !*key || !path) return vs_fail(VS_ERR_INVALID_ARG, "vs_s3_put_file: bad argument");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return vs_fail(VS_ERR_IO, "open %s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
        close(fd);
        return vs_fail(VS_ERR_IO, "%s: not a regular file", path);
    }
    uint64_t size = (uint64_t)st.st_size, part = s3->part_size;
    if (size <= part) {
        int rc = put_range(s3, bucket, key, fd, 0, size, NULL, NULL, 0);
        close(fd);
        return rc;
    }
    while ((size + part - 1) / part > MAX_PARTS) part *= 2;
    uint64_t n_parts = (size + part - 1) / part;

    vs_s3_request r;
    vs_s3_request_init(&r, "POST", bucket, key);
    r.query = "uploads="; /* written with '=' so the signed query matches the canonical one */
    vs_buf buf = {0};
    r.resp = &buf;
    int rc = vs_s3_perform(s3, &r, "start multipart upload");
    char upload_id[512], eid[3 * 512 + 1], query[2048];
    if (rc == VS_OK)
        rc = vs_s3_xml_text(buf.data ? buf.data : "", buf.len, "UploadId", upload_id, sizeof upload_id);
    vs_buf_free(&buf);
    if (rc == VS_OK && vs_s3_uri_encode(upload_id, 0, eid, sizeof eid))
        rc = vs_fail(VS_ERR_CORRUPT, "s3: upload id too long");
    if (rc) {
        close(fd);
        return rc;
    }
    snprintf(query, sizeof query, "uploadId=%s", eid);

    /* <CompleteMultipartUpload> with one <Part> per part, about 100 bytes each. */
    vs_buf xml = {0};
    int oom = vs_buf_append(&xml, "<CompleteMultipartUpload>", 25);
    for (uint64_t i = 0; i < n_parts && rc == VS_OK && !oom; i++) {
        char pq[2100], etag[128];
        snprintf(pq, sizeof pq, "partNumber=%llu&uploadId=%s", (unsigned long long)(i + 1), eid);
        uint64_t off = i * part, len = off + part > size ? size - off : part;
        rc = put_range(s3, bucket, key, fd, off, len, pq, etag, sizeof etag);
        if (rc == VS_OK && !*etag) rc = vs_fail(VS_ERR_CORRUPT, "s3: part %llu answered without an ETag",
                                                (unsigned long long)(i + 1));
        if (rc == VS_OK) {
            char p[300];
            int n = snprintf(p, sizeof p, "<Part><PartNumber>%llu</PartNumber><ETag>%s</ETag></Part>",
                             (unsigned long long)(i + 1), etag);
            oom = vs_buf_append(&xml, p, (size_t)n);
        }
    }
    if (!oom) oom = vs_buf_append(&xml, "</CompleteMultipartUpload>", 26);
    if (oom && rc == VS_OK) rc = vs_fail(VS_ERR_NOMEM, "s3: out of memory");
    if (rc == VS_OK) {
        vs_s3_request_init(&r, "POST", bucket, key);
        r.query = query;
        r.body = xml.data;
        r.body_len = xml.len;
        vs_buf ans = {0};
        r.resp = &ans;
        rc = vs_s3_perform(s3, &r, "complete multipart upload");
        /* S3 may answer 200 with an <Error> document when completion fails late. */
        if (rc == VS_OK && ans.len) {
            char code[128], msg[256];
            if (vs_s3_xml_error(ans.data, ans.len, code, sizeof code, msg, sizeof msg) == VS_OK && *code)
                rc = vs_fail(VS_ERR_NETWORK, "s3: completing the upload of s3://%s/%s failed: %s %s", bucket, key,
                             code, msg);
        }
        vs_buf_free(&ans);
    }
    vs_buf_free(&xml);
    close(fd);
    if (rc) {
        char keep[512];
        snprintf(keep, sizeof keep, "%s", vs_last_error());
        abort_upload(s3, bucket, key, query);
        vs_fail(rc, "%s", keep);
    }
    return rc;
}
