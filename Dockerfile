# One image for every process of the service: web (the default command), Celery worker, Celery
# beat and one-off manage.py tasks (migrate, reprocess_payments, ...). docs/deploy.md shows each.
#
#   docker build -t payment-service .
#
# The Debian release is pinned so that the client library mysqlclient is compiled against in the
# builder is the one installed in the runtime stage.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --- builder: compile mysqlclient, install the pinned packages, build translations and static --
FROM ${PYTHON_IMAGE} AS builder

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# mysqlclient has no Linux wheel: it compiles against the MySQL client headers (STACK-NOTES.md).
# gettext: compilemessages needs msgfmt.
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        build-essential pkg-config default-libmysqlclient-dev gettext \
    && rm -rf /var/lib/apt/lists/*

RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
# Requirements before the code: the layer with every package is rebuilt only when they change.
COPY requirements.txt /tmp/requirements.txt
RUN pip install -r /tmp/requirements.txt

WORKDIR /app
COPY . .
# The CA bundle of Amazon RDS, for TLS to the database (DATABASE_TLS_CA names it): fetched only
# if its SHA-256 is the one pinned in deploy/rds-ca-bundle.sha256, or the build stops. A digest
# verified out of band can be given instead: --build-arg RDS_CA_BUNDLE_SHA256=<digest>.
ARG RDS_CA_BUNDLE_SHA256=""
RUN python deploy/rds_ca.py fetch --destination rds-ca/global-bundle.pem
# Settings need a secret key to load; this one exists only for these two build commands and is
# not kept in the image. The .mo files are not committed: they are built here.
RUN DJANGO_ENV_FILE='' DJANGO_SECRET_KEY=build-only \
        python manage.py compilemessages --ignore=var \
    && DJANGO_ENV_FILE='' DJANGO_SECRET_KEY=build-only \
        python manage.py collectstatic --noinput \
    && rm -rf var/broker

# --- runtime: the virtualenv, the code and the runtime libraries only ------------------------
FROM ${PYTHON_IMAGE} AS runtime

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/venv/bin:$PATH \
    DJANGO_SETTINGS_MODULE=config.settings \
    DJANGO_ENV_FILE="" \
    PORT=8000 \
    PROMETHEUS_MULTIPROC_DIR=/app/var/prometheus

# libmariadb3: the shared library default-libmysqlclient-dev compiled mysqlclient against.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libmariadb3 \
    && rm -rf /var/lib/apt/lists/*

# The code belongs to root and is read-only to the service; var/ is the one place it writes
# (Celery beat's schedule file).
RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin app

COPY --from=builder /opt/venv /opt/venv
WORKDIR /app
COPY --from=builder /app /app
RUN mkdir -p /app/var && chown app:app /app/var

# By number: a platform that checks the image runs as non-root (Kubernetes' runAsNonRoot)
# cannot resolve a name.
USER 10001:10001
EXPOSE 8000

# Liveness only (/healthz): a database outage must not get healthy web containers restarted.
# Worker and beat containers run another command; they turn this check off (docker-compose.yml).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "/app/deploy/healthcheck.py"]

# Every command the image runs, the default one and any a task definition gives, starts only if
# `manage.py check --deploy` passes: settings with a secret unset or published, a simulator,
# SQLite or the folder broker never serve (deploy/entrypoint.sh). The health check runs beside
# it, not through it.
ENTRYPOINT ["/app/deploy/entrypoint.sh"]
CMD ["gunicorn", "-c", "config/gunicorn.py", "config.wsgi"]
