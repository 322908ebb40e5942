# syntax=docker/dockerfile:1.7
# Dagster webserver and daemon: Dagster itself with Postgres storage and the Kubernetes run
# launcher, without the project's code (they reach the code location over gRPC) or its heavy
# dependencies. Default command: the webserver; the daemon runs `dagster-daemon run`.
# Build from the repository root:  docker build -f docker/dagster.Dockerfile -t stockops/dagster .

FROM python:3.11.14-slim-bookworm AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH
WORKDIR /build
COPY requirements/lock.txt requirements/lock.txt
# One Dagster release for the whole family; lock.txt pins every transitive version.
RUN python -m venv /opt/venv \
    && pip install --no-cache-dir "pip==24.3.1" \
    && pip install --no-cache-dir -c requirements/lock.txt \
        "dagster==1.13.27" "dagster-webserver==1.13.27" "dagster-graphql==1.13.27" \
        "dagster-postgres==0.29.27" "dagster-k8s==0.29.27" \
    && find /opt/venv -name '__pycache__' -type d -prune -exec rm -rf {} +

FROM python:3.11.14-slim-bookworm AS runtime
# /data: compose mounts the shared data volume there (compute logs, artifacts); an empty named
# volume takes this directory's owner, whichever container mounts it first.
RUN groupadd --system --gid 10001 dagster \
    && useradd --system --uid 10001 --gid dagster --home-dir /home/dagster --create-home dagster \
    && mkdir -p /data /opt/dagster/dagster_home \
    && chown dagster:dagster /data /opt/dagster/dagster_home
COPY --from=builder /opt/venv /opt/venv
# Default instance and workspace for docker compose; Kubernetes mounts its own over them.
COPY --chown=root:root docker/dagster/dagster.yaml docker/dagster/workspace.yaml /opt/dagster/dagster_home/
ENV VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    DAGSTER_HOME=/opt/dagster/dagster_home
WORKDIR /opt/dagster/dagster_home
USER 10001:10001
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:3000/server_info', timeout=4).status != 200)"]
CMD ["dagster-webserver", "-h", "0.0.0.0", "-p", "3000", "-w", "/opt/dagster/dagster_home/workspace.yaml"]
