# The vecscale runtime image: the command, the library and header (cmake --install of a release
# build, staged by deploy/build-images.sh with fixed file times), the Debian packages they load,
# and the offline models glove-100-sif (the default) and glove-100. Nothing is compiled here; the build context is the
# staged install, so a rebuild with an unchanged binary reuses every layer.
ARG BASE=vecscale/base:bookworm
FROM ${BASE}
# The libraries `objdump -p` lists as NEEDED by vecscale and libvecscale.so (build-images.sh
# checks the list against the binary), curl for the health checks, CA certificates for S3.
RUN apt-get update \
    && apt-get install -y libopenblas0-openmp libgomp1 libxxhash0 libcurl4 libssl3 libxml2 libcjson1 \
       libmicrohttpd12 libutf8proc2 libroaring0 libnats3.4 liburing2 ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* /var/log/apt /var/log/dpkg.log /var/cache/ldconfig/aux-cache \
    && useradd --system --uid 10001 --user-group --home-dir /data --no-create-home --shell /usr/sbin/nologin vecscale \
    && mkdir -p /data && chown vecscale:vecscale /data
# The model first: it changes far less often than the binary.
COPY models/ /usr/local/share/vecscale/models/
COPY usr/ /usr/
ENV VECSCALE_MODEL_DIR=/usr/local/share/vecscale/models
# A named volume mounted on /data starts as a copy of this directory: owned by vecscale.
USER vecscale
WORKDIR /data
ENTRYPOINT ["vecscale"]
CMD ["--help"]
