#!/usr/bin/env bash
# Run Tend's tests (unit, integration and end-to-end in headless Chromium).
#
#   scripts/test.sh                      # SQLite, in-memory Celery broker
#   scripts/test.sh tests/couples -x     # arguments go to pytest
#   DATABASE_URL=postgres://postgres@127.0.0.1:5432/tend \
#   REDIS_URL=redis://127.0.0.1:6379/0 scripts/test.sh    # PostgreSQL and Redis
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/_python.sh
tend_venv

if [[ ! -x /usr/bin/chromium ]]; then
    tend_say "The end-to-end tests need Chromium at /usr/bin/chromium. On Debian/Ubuntu:"
    tend_say "  sudo apt-get install -y --no-install-recommends chromium fonts-liberation"
    exit 1
fi

# Keep everything the browser and pytest write inside the checkout (var/ is git-ignored).
export XDG_CONFIG_HOME="$TEND_ROOT/var/xdg-config"
export XDG_CACHE_HOME="$TEND_ROOT/var/xdg-cache"
export TMPDIR="$TEND_ROOT/var/tmp"
mkdir -p "$XDG_CONFIG_HOME" "$XDG_CACHE_HOME" "$TMPDIR"

if [[ -n "${DATABASE_URL:-}" ]]; then
    tend_say "Database: ${DATABASE_URL%%://*} (DATABASE_URL)"
else
    tend_say "Database: SQLite (set DATABASE_URL to use PostgreSQL)"
fi
if [[ -n "${REDIS_URL:-}" ]]; then
    tend_say "Cache and Celery broker: Redis (REDIS_URL)"
else
    tend_say "Cache and Celery broker: in memory (set REDIS_URL to use Redis)"
fi

exec "$TEND_PY" -m pytest --basetemp=var/pytest "$@"
