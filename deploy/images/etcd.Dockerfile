# etcd from Debian (etcd-server 3.4): the cluster's shard map and node registrations.
ARG BASE=vecscale/base:bookworm
FROM ${BASE}
RUN apt-get update && apt-get install -y etcd-server curl \
    && rm -rf /var/lib/apt/lists/* /var/log/apt /var/log/dpkg.log /var/cache/ldconfig/aux-cache \
    && mkdir -p /var/lib/etcd && chown etcd:etcd /var/lib/etcd
USER etcd
WORKDIR /var/lib/etcd
ENTRYPOINT ["etcd"]
