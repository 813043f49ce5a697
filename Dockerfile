# camnet image: web (gunicorn + gevent), capture worker, migrations and retention share it.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PYTHONSAFEPATH=1 \
    PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    CAMNET_INSTANCE=/var/lib/camnet CAMNET_MIGRATIONS_DIR=/app/migrations

# ffmpeg records clips (stream copy); fonts give PDFs their Vietnamese glyphs.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ffmpeg fonts-dejavu-core \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY requirements.txt pyproject.toml README.md ./
RUN pip install -r requirements.txt
COPY platform ./platform
# the camera simulators: `camnet serve` starts them for the demo's built-in cameras
COPY camsim ./camsim
COPY migrations ./migrations
RUN pip install --no-deps . \
 && useradd --uid 10001 --create-home camnet \
 && mkdir -p /var/lib/camnet && chown camnet /var/lib/camnet

USER 10001
EXPOSE 8000
ENTRYPOINT ["camnet"]
CMD ["web"]
