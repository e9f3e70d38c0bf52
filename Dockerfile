# sigcore in a container: Debian slim, a venv in /opt/sigcore, a non-root user, config + database + key in
# one volume (/var/lib/sigcore). The build installs wheels from dist/ only (no index):
#   python -m build && pip wheel -w dist dist/sigcore-*.whl && podman build -t sigcore .
# BASE may name any Debian 12 image; one made from Debian packages works too (tests/ops/test_container.py:
# debootstrap --variant=minbase, then podman import).
ARG BASE=docker.io/library/debian:bookworm-slim
FROM ${BASE}

ARG DEBIAN_FRONTEND=noninteractive
# Python 3.11 from Debian (skipped when the base already has it, as the debootstrapped one does).
RUN if ! python3 -c "import ensurepip, venv" 2>/dev/null; then \
        apt-get update && apt-get install -y --no-install-recommends python3 python3-venv ca-certificates \
        && rm -rf /var/lib/apt/lists/*; \
    fi

COPY dist/ /tmp/dist/
RUN python3 -m venv /opt/sigcore \
    && /opt/sigcore/bin/pip install --no-cache-dir --no-index --find-links /tmp/dist sigcore \
    && rm -rf /tmp/dist \
    && useradd --system --uid 10001 --user-group --home-dir /var/lib/sigcore --shell /usr/sbin/nologin sigcore \
    && install -d -o sigcore -g sigcore -m 0750 /var/lib/sigcore

COPY deploy/container/sigcore.yaml /etc/sigcore/sigcore.yaml
COPY deploy/container/entrypoint.sh /usr/local/bin/sigcore-entrypoint

ENV SIGCORE_CONFIG=/var/lib/sigcore/sigcore.yaml \
    SIGCORE_API_PORT=8080
VOLUME ["/var/lib/sigcore"]
WORKDIR /var/lib/sigcore
USER sigcore
EXPOSE 3868/tcp 8080/tcp 1161/udp
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["/opt/sigcore/bin/python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ['SIGCORE_API_PORT'], timeout=4)"]
ENTRYPOINT ["/usr/local/bin/sigcore-entrypoint"]
CMD ["run"]
