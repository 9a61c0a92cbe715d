# NATS from Debian (nats-server 2.9): the cluster's replicated write log (JetStream, R=3 over
# three containers of this image; see ../vecscale-cluster/docker-compose.yml).
ARG BASE=vecscale/base:bookworm
FROM ${BASE}
RUN apt-get update && apt-get install -y nats-server curl \
    && rm -rf /var/lib/apt/lists/* /var/log/apt /var/log/dpkg.log /var/cache/ldconfig/aux-cache \
    && mkdir -p /var/lib/nats && chown nats:nats /var/lib/nats
USER nats
WORKDIR /var/lib/nats
ENTRYPOINT ["nats-server"]
