# Fairdraw web, worker and beat: one image, three commands (see compose.yaml and the README's
# "Production" runbook). Runs as a non-root user; static files are collected at build time.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_SETTINGS_MODULE=config.settings.production \
    STATIC_ROOT=/app/var/static \
    MEDIA_ROOT=/app/media \
    WEB_CONCURRENCY=3

WORKDIR /app

# Dependencies first (from pyproject.toml), so a code change does not reinstall them.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

COPY . .

# Production settings refuse to start without their secrets; collectstatic touches none of the
# services, so build-only dummies are enough here. None of them reaches the image's runtime env.
RUN DJANGO_SECRET_KEY=build-only-dummy-secret-key-never-used-at-runtime-0123456789 \
    DJANGO_ALLOWED_HOSTS=build.invalid \
    STRIPE_SECRET_KEY=sk_build_only \
    STRIPE_WEBHOOK_SECRET=whsec_build_only \
    FAIRDRAW_RECEIPT_KEYS=build-only:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= \
    CACHE_URL=redis://build.invalid:6379/1 \
    CELERY_BROKER_URL=redis://build.invalid:6379/0 \
    DATABASE_URL=sqlite:////tmp/build.sqlite3 \
    python manage.py collectstatic --noinput \
    && rm -f /tmp/build.sqlite3

RUN useradd --create-home --uid 10001 fairdraw \
    && mkdir -p /app/media /app/var/celery \
    && chown -R fairdraw:fairdraw /app/media /app/var/celery
USER fairdraw

EXPOSE 8000
# Workers: WEB_CONCURRENCY (gunicorn reads it). Requests are logged by the app itself, one
# line each with its request id (config/middleware.py), so gunicorn's access log stays off.
# Workers are recycled now and then as a guard against slow leaks, but rarely enough that a
# launch spike (hundreds of requests a second) does not keep restarting them with cold caches.
CMD ["gunicorn", "config.wsgi", "--bind", "0.0.0.0:8000", "--timeout", "30", \
     "--graceful-timeout", "30", "--max-requests", "20000", "--max-requests-jitter", "2000", \
     "--worker-tmp-dir", "/dev/shm"]
