# miniorch daemon image: the daemon as a non-root user, talking to Docker through
# a mounted socket (or tcp:// / ssh:// node URLs from the config).
#
#   docker build -t miniorch .                       # base from a registry
#   docker build --build-arg BASE_IMAGE=my/debian-python -t miniorch .
#   docker run -d --name miniorch \
#     -v /var/run/docker.sock:/var/run/docker.sock --group-add "$(stat -c %g /var/run/docker.sock)" \
#     -v /etc/miniorch:/etc/miniorch:ro -v miniorch-state:/var/lib/miniorch miniorch
#
# BASE_IMAGE needs python3 (>= 3.11) with the venv module at /usr/bin/python3:
# python:3.11-slim-bookworm, or a Debian bookworm with python3 + python3-venv
# (scripts/test-image.sh builds one with debootstrap when no registry is reachable).
# A `wheelhouse/` folder in the build context, if present, is installed from
# with --no-index (offline builds); otherwise pip uses its index.
ARG BASE_IMAGE=python:3.11-slim-bookworm

FROM ${BASE_IMAGE} AS build
COPY . /src
RUN set -eu; \
    python3 -m venv /opt/miniorch; \
    if [ -d /src/wheelhouse ]; then \
      /opt/miniorch/bin/pip install --no-cache-dir --no-index --find-links /src/wheelhouse miniorch; \
    else \
      /opt/miniorch/bin/pip install --no-cache-dir /src; \
    fi; \
    /opt/miniorch/bin/pip uninstall -y -q pip; \
    find /opt/miniorch -name __pycache__ -prune -exec rm -rf {} +; \
    /opt/miniorch/bin/python -m compileall -q /opt/miniorch/lib

FROM ${BASE_IMAGE}
ARG UID=10001
# The daemon's user; docker socket access comes from `--group-add <socket gid>`
# at run time, as the socket's group differs from host to host.
RUN set -eu; \
    (groupadd --system --gid "${UID}" miniorch && \
     useradd --system --uid "${UID}" --gid miniorch --home-dir /var/lib/miniorch --shell /usr/sbin/nologin miniorch) \
    || (addgroup -S -g "${UID}" miniorch && adduser -S -D -u "${UID}" -G miniorch -h /var/lib/miniorch miniorch); \
    mkdir -p /etc/miniorch/jobs.d /var/lib/miniorch /run/miniorch; \
    chown miniorch:miniorch /var/lib/miniorch /run/miniorch; \
    chmod 0750 /var/lib/miniorch /run/miniorch
COPY --from=build /opt/miniorch /opt/miniorch
COPY config/miniorch.yaml /etc/miniorch/miniorch.yaml
ENV PATH=/opt/miniorch/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    MINIORCH_SOCKET=/run/miniorch/miniorch.sock
USER miniorch
VOLUME ["/var/lib/miniorch"]
STOPSIGNAL SIGTERM
# Asks the daemon itself over its socket (GET /version), not just "is the process there".
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["miniorch", "ctl", "version"]
ENTRYPOINT ["miniorch", "daemon"]
CMD ["--config", "/etc/miniorch/miniorch.yaml"]
