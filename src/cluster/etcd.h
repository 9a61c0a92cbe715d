/* A small etcd v3 client over the JSON gateway (POST /v3/kv/range, /v3/kv/put,
 * /v3/lease/grant, ...) on libcurl: what cluster membership and the shard map need. Every
 * call is blocking with the handle's timeout; endpoints are tried in turn on network errors.
 * A handle is used by one thread at a time. */
#ifndef VS_CLUSTER_ETCD_H
#define VS_CLUSTER_ETCD_H

#include <stddef.h>
#include <stdint.h>

typedef struct vs_etcd vs_etcd;

/* endpoints: "http://127.0.0.1:2379[,http://...]". */
int vs_etcd_open(const char *endpoints, uint32_t timeout_ms, vs_etcd **out);
void vs_etcd_free(vs_etcd *e);

int vs_etcd_lease_grant(vs_etcd *e, int ttl_s, int64_t *lease);
/* Renews a lease; VS_ERR_NOT_FOUND once it has expired (the caller must register anew). */
int vs_etcd_lease_keepalive(vs_etcd *e, int64_t lease);
int vs_etcd_lease_revoke(vs_etcd *e, int64_t lease);

/* lease 0 = none. */
int vs_etcd_put(vs_etcd *e, const char *key, const char *value, int64_t lease);
/* *value malloc'd (caller frees); VS_ERR_NOT_FOUND if absent. */
int vs_etcd_get(vs_etcd *e, const char *key, char **value);
/* Calls fn for every key starting with prefix (key order); a non-zero return stops. */
int vs_etcd_list(vs_etcd *e, const char *prefix, int (*fn)(const char *key, const char *value, void *ctx),
                 void *ctx);
int vs_etcd_delete(vs_etcd *e, const char *key);
/* Compare-and-swap in one etcd transaction: sets key to value iff its value is `expect`
 * (NULL: iff the key is absent). *swapped says whether it did; VS_OK either way. */
int vs_etcd_cas(vs_etcd *e, const char *key, const char *expect, const char *value, int *swapped);
/* The same, the key put under `lease` (0 = none): it goes when the lease expires. */
int vs_etcd_cas_lease(vs_etcd *e, const char *key, const char *expect, const char *value, int64_t lease, int *swapped);

/* Standard base64 (RFC 4648), as the gateway encodes keys and values. Encode writes a
 * NUL-terminated string into out (cap >= 4 * ceil(n / 3) + 1); decode returns the byte count
 * or -1 on malformed input. */
int vs_base64_encode(const void *in, size_t n, char *out, size_t cap);
long vs_base64_decode(const char *in, size_t n, uint8_t *out, size_t cap);

#endif
