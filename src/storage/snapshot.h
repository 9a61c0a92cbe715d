/* Pieces shared by snapshot push and pull: object names under a snapshot prefix. */
#ifndef VS_CLUSTER_SNAPSHOT_H
#define VS_CLUSTER_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

#include "storage/snapshot_manifest.h"
#include "vecscale.h"

typedef struct {
    char bucket[64];
    char prefix[1024]; /* no leading or trailing '/'; may be empty */
} vs_snap_uri;

int vs_snap_parse_uri(const char *uri, vs_snap_uri *out);
/* "prefix/<sub><name>" (or "<sub><name>" for an empty prefix). */
void vs_snap_key(const vs_snap_uri *u, const char *sub, const char *name, char *out, size_t cap);
/* "<generation, 20 digits>.vsm": zero-padded so key order is generation order. */
void vs_snap_manifest_name(uint64_t generation, char *out, size_t cap);
/* Streams a file through XXH3-128 (canonical bytes). */
int vs_snap_hash_file(const char *path, uint8_t out[16]);

#endif
