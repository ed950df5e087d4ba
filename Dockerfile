# syntax=docker/dockerfile:1
# The SRE daemon: python -m sre.daemon, with kubectl and helm for rollbacks.
#   docker build -t sre-daemon .
#   docker run --read-only -v sre-state:/var/lib/sre --tmpfs /tmp \
#     -v "$PWD/sre.yaml:/etc/sre/sre.yaml:ro" -p 9877:9877 sre-daemon
# Runs as uid 10001 with a read-only root filesystem: it writes only /var/lib/sre (state,
# a volume) and /tmp (HOME and the kubectl/helm caches; an emptyDir in Kubernetes).

ARG PYTHON_IMAGE=python:3.11-slim

# ---------------------------------------------------------------- build: the package
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
WORKDIR /src
COPY pyproject.toml README.md ./
COPY sre ./sre
COPY dashboards ./dashboards
COPY rules ./rules
# A regular (non-editable) install: the runtime image needs no source tree.
RUN /opt/venv/bin/pip install .

# ---------------------------------------------------------------- tools: kubectl + helm
FROM ${PYTHON_IMAGE} AS tools
# The downloads below are checked with `echo ... | sha256sum -c -`: without pipefail a
# failing left-hand side would go unnoticed.
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
# Pinned by version and by the sha256 published next to each download
# (https://dl.k8s.io/release/<v>/bin/linux/amd64/kubectl.sha256, get.helm.sh/<file>.sha256sum).
# Bump both lines together.
ARG KUBECTL_VERSION=v1.31.0
ARG KUBECTL_SHA256=7c27adc64a84d1c0cc3dcf7bf4b6e916cc00f3f576a2dbac51b318d926032437
ARG HELM_VERSION=v3.14.0
ARG HELM_SHA256=f43e1c3387de24547506ab05d24e5309c0ce0b228c23bd8aa64e9ec4b8206651
WORKDIR /dl
# python:3.11-slim has no curl: fetch with the standard library.
RUN python -c "import sys, urllib.request; urllib.request.urlretrieve(sys.argv[1], sys.argv[2])" \
        "https://dl.k8s.io/release/${KUBECTL_VERSION}/bin/linux/amd64/kubectl" kubectl \
 && echo "${KUBECTL_SHA256}  kubectl" | sha256sum -c - \
 && install -m 0755 kubectl /usr/local/bin/kubectl \
 && python -c "import sys, urllib.request; urllib.request.urlretrieve(sys.argv[1], sys.argv[2])" \
        "https://get.helm.sh/helm-${HELM_VERSION}-linux-amd64.tar.gz" helm.tar.gz \
 && echo "${HELM_SHA256}  helm.tar.gz" | sha256sum -c - \
 && tar -xzf helm.tar.gz linux-amd64/helm \
 && install -m 0755 linux-amd64/helm /usr/local/bin/helm \
 && rm -rf /dl/*

# ---------------------------------------------------------------- runtime
FROM ${PYTHON_IMAGE} AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/venv/bin:$PATH \
    HOME=/tmp \
    HELM_CACHE_HOME=/tmp/helm/cache \
    HELM_CONFIG_HOME=/tmp/helm/config \
    HELM_DATA_HOME=/tmp/helm/data
# pg_restore / psql for the backup restore test (backups[].restore_test).
RUN apt-get update \
 && apt-get install -y --no-install-recommends postgresql-client \
 && rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid 10001 sre \
 && useradd --system --uid 10001 --gid 10001 --home-dir /tmp --no-create-home \
        --shell /usr/sbin/nologin sre \
 && mkdir -p /var/lib/sre /etc/sre \
 && chown 10001:10001 /var/lib/sre
COPY --from=tools /usr/local/bin/kubectl /usr/local/bin/helm /usr/local/bin/
COPY --from=build /opt/venv /opt/venv
VOLUME ["/var/lib/sre"]
WORKDIR /
USER 10001:10001
EXPOSE 9877
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:9877/healthz', timeout=3).status == 200 else 1)"]
ENTRYPOINT ["python", "-m", "sre.daemon"]
CMD ["--config", "/etc/sre/sre.yaml"]
