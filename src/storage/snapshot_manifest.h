/* The snapshot manifest: which files make up one generation of a snapshot, with their sizes
 * and XXH3-128 checksums. Stored as prefix/manifests/<generation, 20 digits>.vsm:
 *
 *   VSMANIFEST <version> <XXH3-64 of everything after this line, 16 hex digits>\n
 *   {"format":"vecscale-snapshot","generation":N,"created_unix":T,
 *    "files":[{"path":"index.vsi","size":S,"xxh3_128":"<32 hex>"}, ...]}
 *
 * The first line lets a reader reject a torn or altered manifest before trusting any of it;
 * JSON keeps it readable with any S3 tool. A file's segment object is
 * prefix/segments/<xxh3_128>-<size>, so equal files are stored once. */
#ifndef VS_CLUSTER_SNAPSHOT_MANIFEST_H
#define VS_CLUSTER_SNAPSHOT_MANIFEST_H

#include <stddef.h>
#include <stdint.h>

#define VS_MANIFEST_VERSION 1
#define VS_MANIFEST_MAX_FILES 1000000

typedef struct {
    char *path;          /* relative, '/'-separated, no "." or ".." components */
    uint64_t size;
    uint8_t xxh128[16];  /* canonical (big-endian) XXH3-128 */
} vs_snap_file;

typedef struct {
    uint64_t generation;
    int64_t created_unix;
    size_t n_files;
    vs_snap_file *files;
} vs_snap_manifest;

/* Serialises m; *out is malloc'd (caller frees). */
int vs_manifest_encode(const vs_snap_manifest *m, char **out, size_t *len);
/* Parses and validates a manifest (checksum, version, paths, duplicates). On success *m owns
 * its strings: release with vs_manifest_clear. `origin` names it in error messages. */
int vs_manifest_decode(const char *buf, size_t len, const char *origin, vs_snap_manifest *m);
void vs_manifest_clear(vs_snap_manifest *m);

/* A relative path that stays inside the target directory. */
int vs_manifest_path_ok(const char *path);
/* "<32 hex>-<size>" into out (cap >= 64). */
void vs_manifest_segment_name(const vs_snap_file *f, char *out, size_t cap);
/* Lower-case hex of n bytes into out (2n+1 bytes). */
void vs_hex(const uint8_t *bytes, size_t n, char *out);

#endif
