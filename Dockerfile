# QuantService: quantd (API + workers) and quantctl in a slim Debian image.
#
#   docker build -t quantservice .
#   docker run -p 8080:8080 -v quantd-data:/data quantservice
#
# The build steps are Deploy/build-release.sh, which the test suite also runs outside Docker.

# Build stage: the official Swift image at the toolchain's minor version (6.3), Debian bookworm
# like the runtime stage, so the C libraries linked here are the ones installed there.
FROM swift:6.3-bookworm AS build
WORKDIR /src
# Dependencies first, so a source change does not refetch them. (Package.* also takes a
# Package.resolved when the checkout has one; versions are pinned in Package.swift with `from:`.)
COPY Package.* ./
RUN swift package resolve
COPY Sources ./Sources
COPY scripts ./scripts
COPY Deploy/build-release.sh ./Deploy/build-release.sh
# Tests/ is not needed to build, but SwiftPM checks that every declared test target has its folder.
COPY Tests ./Tests
RUN Deploy/build-release.sh /opt/quantservice

# Runtime stage: only the shared libraries the binaries need (the Swift runtime is linked in;
# libstdc++6 and libgcc-s1 are part of the slim image already).
FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends libcurl4 libsqlite3-0 libopenblas0-pthread libpq5 ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin quantd \
    && mkdir -p /data && chown quantd:quantd /data
COPY --from=build /opt/quantservice/bin/quantd /opt/quantservice/bin/quantctl /usr/local/bin/

USER quantd
VOLUME ["/data"]
EXPOSE 8080
# Every option of quantd is also an environment variable.
ENV QUANTD_HOST=0.0.0.0 \
    QUANTD_PORT=8080 \
    QUANTD_DATA_DIR=/data
# quantctl is in the image, so the health check needs nothing else (curl is not installed).
HEALTHCHECK --interval=15s --timeout=5s --start-period=10s --retries=3 \
    CMD ["quantctl", "health", "--server", "http://127.0.0.1:8080"]
ENTRYPOINT ["quantd"]
