# livebuy: one image for every worker. Build: docker build -t livebuy .
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    LIVEBUY_HOST=0.0.0.0 \
    LIVEBUY_PORT=8080

WORKDIR /app
COPY pyproject.toml README.md ./
COPY src ./src
COPY bots ./bots
COPY webhooks ./webhooks
COPY migrations ./migrations
COPY bench ./bench
RUN pip install . \
    && useradd --system --create-home --uid 10001 livebuy \
    && mkdir -p /var/lib/livebuy/media && chown -R livebuy /var/lib/livebuy \
    && rm -rf /root/.cache

# Never root at run time; the SQLite default (for a single container) lives in /data.
USER livebuy
WORKDIR /data
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --retries=3 \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=2)"
# Migrations first (safe to run from every worker: Alembic takes a lock on PostgreSQL), then
# serve. SIGTERM stops it gracefully: in-flight requests finish, singleton duties are released.
CMD ["sh", "-c", "livebuy db upgrade && exec livebuy run --log json"]
