# The S3 store: Ceph from Debian (16.2) as one single-host cluster — a monitor, one OSD on
# BlueStore in a file on the data volume, radosgw — started and supervised by s3-start.sh.
ARG BASE=vecscale/base:bookworm
FROM ${BASE}
RUN apt-get update && apt-get install -y ceph-mon ceph-osd radosgw ceph-common curl \
    && rm -rf /var/lib/apt/lists/* /var/log/apt /var/log/dpkg.log /var/cache/ldconfig/aux-cache \
    && mkdir -p /var/lib/vecscale-s3 && chown ceph:ceph /var/lib/vecscale-s3
COPY s3-start.sh s3-health.sh /usr/local/bin/
# The ceph.conf it shares with the tests' fixture (scripts/ceph_single_conf.sh).
COPY ceph_single_conf.sh /usr/local/lib/vecscale/
USER ceph
WORKDIR /var/lib/vecscale-s3
ENTRYPOINT ["/usr/local/bin/s3-start.sh"]
