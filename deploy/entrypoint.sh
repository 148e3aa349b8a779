#!/bin/sh
# The image's entrypoint: every process of the service (web, worker, beat, one-off manage.py
# commands) starts only once `manage.py check --deploy` finds no error in its settings: no
# gateway secret unset or at a value anyone can read, no simulator, no SQLite, no folder broker,
# no mail that goes nowhere (core/checks.py). Then the command takes this process's place, so
# it receives ECS's signals itself.
set -eu

if ! python "$(dirname "$0")/../manage.py" check --deploy --fail-level ERROR; then
    echo "entrypoint: refusing to start $*: the settings fail the deploy checks above" \
        "(docs/deploy.md, Configuration)." >&2
    exit 1
fi
# Prometheus' multiprocess folder (core/metrics.py), emptied before any process of this
# container counts into it: files of a previous run would be added to this one's.
if [ -n "${PROMETHEUS_MULTIPROC_DIR:-}" ]; then
    rm -rf "$PROMETHEUS_MULTIPROC_DIR"
    mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
fi
exec "$@"
