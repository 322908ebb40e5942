# syntax=docker/dockerfile:1.7
# Streamlit front end. It imports nothing of the project (import-linter enforces it) and talks to
# the API over HTTP (STOCKOPS_API_URL), so its image carries only Streamlit and its few libraries.
# Build from the repository root:  docker build -f docker/streamlit.Dockerfile -t stockops/streamlit .

FROM python:3.11.14-slim-bookworm AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH
WORKDIR /build
COPY requirements/lock.txt requirements/lock.txt
COPY docker/streamlit-requirements.txt requirements.txt
RUN python -m venv /opt/venv \
    && pip install --no-cache-dir "pip==24.3.1" \
    && pip install --no-cache-dir -c requirements/lock.txt -r requirements.txt \
    && find /opt/venv -name '__pycache__' -type d -prune -exec rm -rf {} +

FROM python:3.11.14-slim-bookworm AS runtime
RUN groupadd --system --gid 10001 stockops \
    && useradd --system --uid 10001 --gid stockops --home-dir /home/stockops --create-home stockops
COPY --from=builder /opt/venv /opt/venv
WORKDIR /app
COPY streamlit_app/ streamlit_app/
ENV VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/app \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    STREAMLIT_BROWSER_GATHER_USAGE_STATS=false \
    STREAMLIT_SERVER_HEADLESS=true \
    STOCKOPS_API_URL=http://api:8000
USER 10001:10001
EXPOSE 8501
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8501/_stcore/health', timeout=4).status != 200)"]
CMD ["streamlit", "run", "streamlit_app/app.py", "--server.port", "8501", "--server.address", "0.0.0.0"]
