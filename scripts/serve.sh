#!/usr/bin/env bash
# Local Prefect for chargepoints: a server, the process work pool, the deployments of
# prefect.yaml and a process worker, all from this checkout's .venv and offline.
#
#   bash scripts/serve.sh          # start (or re-deploy if already running); prints the UI URL
#   bash scripts/serve.sh stop     # stop the worker and the server this script started
#   bash scripts/serve.sh status   # what is running, and where the logs are
#
# Everything lives in .prefect/ (PREFECT_HOME): the SQLite database, server.log, worker.log and
# the pid files. Environment knobs: PREFECT_PORT (default 4200), PREFECT_HOST (127.0.0.1),
# SERVE_TIMEOUT (seconds to wait for the server, default 90). See docs/operations.md.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="$REPO/.venv/bin"
PREFECT="$BIN/prefect"
POOL="chargepoints"

export PREFECT_HOME="${PREFECT_HOME:-$REPO/.prefect}"
export PREFECT_SERVER_ANALYTICS_ENABLED=false
# The runs' INFO lines (counts per stage) must reach the UI: `make` exports WARNING for quiet
# local runs, which would also filter them out of every flow run the worker starts.
export PREFECT_LOGGING_LEVEL=INFO
HOST="${PREFECT_HOST:-127.0.0.1}"
PORT="${PREFECT_PORT:-4200}"
TIMEOUT="${SERVE_TIMEOUT:-90}"
export PREFECT_API_URL="http://$HOST:$PORT/api"
# Flow runs resolve prefect.yaml's `{{ $CHARGEPOINTS_HOME }}` pull step (and relative data paths)
# against this checkout.
export CHARGEPOINTS_HOME="${CHARGEPOINTS_HOME:-$REPO}"

SERVER_PID="$PREFECT_HOME/server.pid"
WORKER_PID="$PREFECT_HOME/worker.pid"
SERVER_LOG="$PREFECT_HOME/server.log"
WORKER_LOG="$PREFECT_HOME/worker.log"

say() { printf '%s\n' "serve: $*"; }
die() { printf '%s\n' "serve: $*" >&2; exit 1; }

alive() { [[ -f "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

healthy() {
  "$BIN/python" - "$PREFECT_API_URL/health" <<'PY' 2>/dev/null
import sys, urllib.request
try:
    with urllib.request.urlopen(sys.argv[1], timeout=2) as r:
        sys.exit(0 if r.status == 200 else 1)
except Exception:
    sys.exit(1)
PY
}

stop_one() {  # pidfile name: SIGTERM the process group, then SIGKILL after 10 s
  local pidfile="$1" name="$2" pid
  if ! alive "$pidfile"; then rm -f "$pidfile"; return 0; fi
  pid="$(cat "$pidfile")"
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  if kill -0 "$pid" 2>/dev/null; then kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" || true; fi
  rm -f "$pidfile"
  say "stopped the $name (pid $pid)"
}

start_bg() {  # pidfile log command...: a new session so `stop` can end its whole process group
  local pidfile="$1" log="$2"; shift 2
  setsid "$@" >>"$log" 2>&1 < /dev/null &
  echo $! > "$pidfile"
}

cmd_stop() {
  stop_one "$WORKER_PID" worker
  stop_one "$SERVER_PID" server
}

cmd_status() {
  if alive "$SERVER_PID"; then say "server pid $(cat "$SERVER_PID"), UI http://$HOST:$PORT"; else say "server not running"; fi
  if alive "$WORKER_PID"; then say "worker pid $(cat "$WORKER_PID") on pool '$POOL'"; else say "worker not running"; fi
  say "logs: $SERVER_LOG, $WORKER_LOG"
}

cmd_start() {
  [[ -x "$PREFECT" ]] || die "$PREFECT not found: run 'make setup' first"
  mkdir -p "$PREFECT_HOME"
  cd "$REPO"

  # 1. the server (reused when this script already started one)
  if healthy; then
    say "server already answering at $PREFECT_API_URL"
  else
    alive "$SERVER_PID" && die "server pid $(cat "$SERVER_PID") is not answering; see $SERVER_LOG or run '$0 stop'"
    say "starting the Prefect server on $HOST:$PORT (log: $SERVER_LOG)"
    start_bg "$SERVER_PID" "$SERVER_LOG" "$PREFECT" server start --host "$HOST" --port "$PORT" --analytics-off
    local waited=0
    until healthy; do
      alive "$SERVER_PID" || die "the server exited; last lines of $SERVER_LOG:
$(tail -n 20 "$SERVER_LOG")"
      (( waited >= TIMEOUT * 2 )) && { cmd_stop; die "no answer from $PREFECT_API_URL/health after ${TIMEOUT}s (see $SERVER_LOG)"; }
      sleep 0.5; waited=$((waited + 1))
    done
    say "server healthy after $((waited / 2)) s"
  fi

  # 2. the process work pool the deployments name
  if "$PREFECT" work-pool inspect "$POOL" >/dev/null 2>&1; then
    say "work pool '$POOL' exists"
  else
    "$PREFECT" work-pool create "$POOL" --type process >/dev/null
    say "created the process work pool '$POOL'"
  fi

  # 3. every deployment of prefect.yaml (idempotent: re-deploying updates them in place)
  say "deploying prefect.yaml (CHARGEPOINTS_HOME=$CHARGEPOINTS_HOME)"
  "$PREFECT" --no-prompt deploy --all >"$PREFECT_HOME/deploy.log" 2>&1 \
    || die "prefect deploy failed; see $PREFECT_HOME/deploy.log:
$(tail -n 20 "$PREFECT_HOME/deploy.log")"
  "$PREFECT" deployment ls 2>/dev/null || true

  # 4. one process worker (flow runs are subprocesses of it, using this .venv)
  if alive "$WORKER_PID"; then
    say "worker already running (pid $(cat "$WORKER_PID"))"
  else
    start_bg "$WORKER_PID" "$WORKER_LOG" "$PREFECT" worker start --pool "$POOL" --name "chargepoints-local"
    sleep 2
    alive "$WORKER_PID" || die "the worker exited; last lines of $WORKER_LOG:
$(tail -n 20 "$WORKER_LOG")"
    say "worker started on pool '$POOL' (log: $WORKER_LOG)"
  fi

  cat <<MSG

  Prefect UI:   http://$HOST:$PORT   (Deployments: charge-sites-daily/daily, .../backfill, .../retention)
  Use the CLI against it from another shell:
      export PREFECT_HOME=$PREFECT_HOME PREFECT_API_URL=$PREFECT_API_URL
      $PREFECT deployment run charge-sites-daily/daily --param date=YYYY-MM-DD
  Stop everything:   bash scripts/serve.sh stop

MSG
}

case "${1:-start}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  *) die "usage: $0 [start|stop|status]" ;;
esac
