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
exec "$@"
