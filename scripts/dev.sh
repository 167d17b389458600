#!/usr/bin/env bash
# Run Tend locally: SQLite, a Celery worker with beat that needs no broker
# server, email printed in this terminal, and a demo couple to log in as.
#
#   scripts/dev.sh              # http://127.0.0.1:8000/
#   PORT=8001 scripts/dev.sh    # another port
#   PYTHON=/path/to/python3.12 scripts/dev.sh
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/_python.sh
tend_venv

PORT="${PORT:-8000}"
export DEBUG=true
export SITE_URL="${SITE_URL:-http://127.0.0.1:$PORT}"
mkdir -p var

"$TEND_PY" manage.py migrate --noinput
"$TEND_PY" manage.py load_demo

# Each background process gets its own process group (set -m), so Ctrl-C
# reaches only this script, which then stops both groups in order: the
# server, then the worker (and the beat process it runs).
set -m
server_pid=""
worker_pid=""

stop() {
    trap - INT TERM EXIT
    local pid
    [[ -n "$worker_pid" ]] && echo "Stopping the server and the worker (a few seconds)..." >&2
    for pid in "$server_pid" "$worker_pid"; do
        [[ -n "$pid" ]] && kill -TERM -- "-$pid" 2>/dev/null || true
    done
    # A warm worker shutdown finishes the task at hand; give it 20 s.
    for pid in "$server_pid" "$worker_pid"; do
        [[ -n "$pid" ]] || continue
        for _ in $(seq 1 100); do
            kill -0 -- "-$pid" 2>/dev/null || break
            sleep 0.2
        done
        kill -KILL -- "-$pid" 2>/dev/null || true
    done
    wait 2>/dev/null || true
}
trap 'stop; exit 130' INT
trap 'stop; exit 143' TERM
trap stop EXIT

"$TEND_PY" -m celery -A config worker --beat -l info --pool=solo \
    --schedule var/celerybeat-schedule &
worker_pid=$!

# An ASGI server (uvicorn, restarted on code changes): live pages stream events.
"$TEND_PY" -m config.devserver "$PORT" &
server_pid=$!

cat <<EOF

  Tend is running at http://127.0.0.1:$PORT/
  Log in as sam@demo.tend or alex@demo.tend, password: tend-together
  (use two browsers, or one private window, to be both partners).
  Emails are printed in this terminal. Press Ctrl-C to stop.

EOF

# Stay up while the server runs; if it exits (or fails to start), stop all.
status=0
wait "$server_pid" || status=$?
exit "$status"
