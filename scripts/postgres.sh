#!/usr/bin/env bash
# A throw-away PostgreSQL server for the tests: its own cluster in a temporary folder, on a free port
# of 127.0.0.1, owned by an unprivileged user when run as root (postgres refuses to run as root).
#   scripts/postgres.sh start DIR [PID]  creates and starts it; prints its URL (postgres://...). With
#                                   PID, a watcher stops it and removes DIR once that process is gone
#                                   (test processes that die without cleaning up)
#   scripts/postgres.sh stop DIR    stops it (fast shutdown) and removes DIR
#   scripts/postgres.sh restart DIR stops and starts it on the same port (the data survive)
#   scripts/postgres.sh halt DIR    stops it, keeping its data;  resume DIR  starts it again
# QS_PG_LISTEN=127.0.0.1,10.0.0.1 at start adds addresses to listen on (a test's veth), and trusts
# clients on their directly connected subnets.
set -euo pipefail

command="${1:?usage: scripts/postgres.sh start|stop|restart DIR [PID]}"
dir="${2:?usage: scripts/postgres.sh start|stop|restart DIR}"
bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"
[ -x "$bin/postgres" ] || { echo "PostgreSQL server not found (Debian package: postgresql)" >&2; exit 1; }

as_owner() {
  # From /: the unprivileged user may not be allowed into the caller's working directory.
  if [ "$(id -u)" -eq 0 ]; then (cd / && runuser -u nobody -- "$@"); else "$@"; fi
}

start_server() {
  local port
  port="$(cat "$dir/port")"
  as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-p $port -k $dir/socket -c listen_addresses=$(cat "$dir/listen") -c fsync=off -c max_connections=300" start >/dev/null
}

case "$command" in
  start)
    mkdir -p "$dir/socket"
    [ "$(id -u)" -eq 0 ] && chown -R nobody "$dir"
    as_owner "$bin/initdb" -D "$dir/data" -U quantd --auth=trust --no-sync -E UTF8 >/dev/null
    echo "${QS_PG_LISTEN:-127.0.0.1}" >"$dir/listen"
    [ -n "${QS_PG_LISTEN:-}" ] && echo "host all all samenet trust" >>"$dir/data/pg_hba.conf"
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' >"$dir/port"
    start_server
    if [ -n "${3:-}" ]; then
      setsid nohup bash -c "while kill -0 $3 2>/dev/null; do sleep 1; done; '$0' stop '$dir'" >/dev/null 2>&1 < /dev/null &
    fi
    echo "postgres://quantd@127.0.0.1:$(cat "$dir/port")/postgres"
    ;;
  restart)
    as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null
    start_server
    ;;
  halt)
    as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null
    ;;
  resume)
    start_server
    ;;
  stop)
    as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
    rm -rf "$dir"
    ;;
  *) echo "unknown command $command" >&2; exit 2 ;;
esac
