#!/usr/bin/env bash
# The Label Studio server Lepton's annotators use, in its own virtual environment (its pinned
# dependencies clash with the pipeline's), on 127.0.0.1, with every outbound call switched off.
#
#   scripts/label-studio.sh install   # .ls-venv from deploy/label-studio.lock
#   scripts/label-studio.sh start     # start, wait for /health, print the URL
#   scripts/label-studio.sh stop      # stop the server this script started, by its pid
#   scripts/label-studio.sh env       # the export lines the pipeline reads
#
# Settings (environment): LS_HOME (data dir, default $LEPTON_HOME/label-studio), LS_PORT
# (default 8089), LS_VENV (default .ls-venv). The admin token is created on first start and
# kept in $LS_HOME/token with mode 0600; the pipeline reads it from LABEL_STUDIO_API_KEY.
set -euo pipefail
umask 077  # its data folder holds the tasks' text and the admin token
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
LEPTON_HOME="${LEPTON_HOME:-$ROOT/.lepton}"
LS_HOME="${LS_HOME:-$LEPTON_HOME/label-studio}"
LS_PORT="${LS_PORT:-8089}"
LS_VENV="${LS_VENV:-$ROOT/.ls-venv}"
LS_WAIT="${LS_WAIT:-240}"
PIDFILE="$LS_HOME/server.pid"
URL="http://127.0.0.1:$LS_PORT"

install() {
  if [[ -f "$LS_VENV/.installed" && "$LS_VENV/.installed" -nt "$ROOT/deploy/label-studio.lock" ]]; then return; fi
  python3 -m venv "$LS_VENV"
  # uv: the same locked set, several times faster than pip (find-links from pip's setting),
  # compiled to bytecode as pip does so that the server's first start does not compile Django
  "$LS_VENV/bin/pip" install --quiet uv==0.13.9
  "$LS_VENV/bin/uv" pip install --python "$LS_VENV/bin/python" --quiet --no-deps --compile-bytecode \
    ${PIP_FIND_LINKS:+--find-links "$PIP_FIND_LINKS"} -r "$ROOT/deploy/label-studio.lock"
  touch "$LS_VENV/.installed"
}

token() {
  mkdir -p "$LS_HOME"
  if [[ ! -s "$LS_HOME/token" ]]; then
    (umask 077; python3 -c 'import secrets; print(secrets.token_hex(20))' > "$LS_HOME/token")
  fi
  chmod 600 "$LS_HOME/token"
  cat "$LS_HOME/token"
}

running() { [[ -f "$PIDFILE" ]] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; }

start() {
  install
  if running; then echo "$URL"; return; fi
  # Label Studio silently moves to the next free port when its port is taken: refuse instead.
  if (exec 3<>"/dev/tcp/127.0.0.1/$LS_PORT") 2>/dev/null; then
    echo "port $LS_PORT is already in use; set LS_PORT" >&2; exit 1
  fi
  local tok; tok="$(token)"
  local started=$SECONDS
  LABEL_STUDIO_BASE_DATA_DIR="$LS_HOME/data" \
  LABEL_STUDIO_USERNAME="${LS_USERNAME:-lepton@localhost}" \
  LABEL_STUDIO_PASSWORD="${LS_PASSWORD:-$tok}" \
  LABEL_STUDIO_USER_TOKEN="$tok" \
  LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN=true \
  SENTRY_DSN= FRONTEND_SENTRY_DSN= LATEST_VERSION_CHECK=false COLLECT_ANALYTICS=false \
  LABEL_STUDIO_DISABLE_SIGNUP_WITHOUT_LINK=true \
  SSRF_PROTECTION_ENABLED="${LS_SSRF_PROTECTION:-true}" \
    nohup "$LS_VENV/bin/label-studio" start --no-browser --internal-host 127.0.0.1 --port "$LS_PORT" \
      > "$LS_HOME/server.log" 2>&1 &
  echo $! > "$PIDFILE"
  for _ in $(seq 1 "$LS_WAIT"); do
    if curl -fsS "$URL/health" > /dev/null 2>&1; then
      echo "Label Studio up at $URL after $((SECONDS - started)) s" >&2
      echo "$URL"; return
    fi
    running || { echo "Label Studio exited; see $LS_HOME/server.log" >&2; tail -20 "$LS_HOME/server.log" >&2; exit 1; }
    sleep 1
  done
  echo "Label Studio did not answer /health within $LS_WAIT s; see $LS_HOME/server.log" >&2; exit 1
}

stop() {
  running || { rm -f "$PIDFILE"; return; }
  local pid; pid="$(cat "$PIDFILE")"
  kill "$pid"
  for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$PIDFILE"
}

case "${1:-}" in
  install) install ;;
  start) start ;;
  stop) stop ;;
  env) echo "export LABEL_STUDIO_URL=$URL"; echo "export LABEL_STUDIO_API_KEY=$(token)" ;;
  *) echo "usage: $0 install|start|stop|env" >&2; exit 2 ;;
esac
