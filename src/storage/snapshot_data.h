/* A server's data directory in object storage: what `vecscale serve --snapshot-uri` publishes
 * after each save and restores on start. A generation holds collections/<name>/<files> of
 * every collection's last committed snapshot (collection.vsc and its index file), never the
 * write-ahead log, which keeps growing while the push runs. */
#ifndef VS_CLUSTER_SNAPSHOT_DATA_H
#define VS_CLUSTER_SNAPSHOT_DATA_H

#include "vecscale.h"

/* Publishes the committed state of every collection under data_dir/collections as a new
 * generation at uri. The files are hard-linked into a staging directory inside data_dir first
 * (a snapshot replaces files by rename, so the links keep the state they name), so saves and
 * writes may continue meanwhile. Nothing in data_dir changes but the staging directory, which
 * is removed again. stats may be NULL. */
int vs_data_publish(vs_s3 *s3, const char *data_dir, const char *uri, vs_snapshot_stats *stats);

/* Hard-links one collection's committed files (collection.vsc and the index it names; never
 * the log or LOCK) from the collection directory `from` into `to` (removed and created anew),
 * retrying while a snapshot commits meanwhile. VS_ERR_NOT_FOUND if `from` holds no collection.
 * Also used by the server's named saves (src/server/export.c). */
int vs_data_stage_collection(const char *from, const char *to);

/* Restores generation `generation` (0 = the latest) at uri into data_dir/collections, unless
 * data_dir already holds a collection (local data, possibly newer than any published state,
 * wins). *restored: 1 = restored, 0 = skipped because of local collections, -1 = nothing
 * published at uri yet (both return VS_OK). On failure data_dir is left as it was. */
int vs_data_restore(vs_s3 *s3, const char *data_dir, const char *uri, uint64_t generation,
                    vs_snapshot_stats *stats, int *restored);

#endif
