#!/usr/bin/env bash
# A throw-away PostgreSQL server for the ledger's tests (docs/ledger.md, "Tests"): a new cluster
# in a temporary folder, listening on loopback only, trusted local logins, no fsync.
#
#   url="$(bash scripts/pg_cluster.sh start DIR)"   # prints postgresql://dlcost@127.0.0.1:PORT/dlcost_test
#   bash scripts/pg_cluster.sh stop DIR
#
# The server's programs come from Debian's postgresql package. PostgreSQL refuses to run as
# root, so as root the cluster belongs to the `postgres` user the package creates.
set -euo pipefail

cmd="${1:-}"
dir="${2:-}"
[[ -n "$cmd" && -n "$dir" ]] || { echo "usage: pg_cluster.sh start|stop DIR" >&2; exit 2; }
bin="$(ls -d /usr/lib/postgresql/*/bin 2> /dev/null | sort -V | tail -n 1)"
[[ -n "$bin" && -x "$bin/initdb" ]] || { echo "pg_cluster.sh: no PostgreSQL server (install Debian's postgresql)" >&2; exit 4; }

as_owner() {
  if [[ "$(id -u)" == 0 ]]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

case "$cmd" in
  start)
    # The cluster lives in a folder of its own owner (DIR may sit where that user cannot go);
    # DIR/cluster names it.
    mkdir -p "$dir"
    cluster="$(mktemp -d "${TMPDIR:-/tmp}/dlcost-pg.XXXXXX")"
    echo "$cluster" > "$dir/cluster"
    [[ "$(id -u)" == 0 ]] && chown postgres "$cluster"
    as_owner "$bin/initdb" -D "$cluster/data" -U dlcost -A trust -E UTF8 --no-locale > "$dir/initdb.log" 2>&1 \
      || { cat "$dir/initdb.log" >&2; exit 1; }
    for attempt in 1 2 3 4 5 6 7 8; do
      port=$(( 20000 + (RANDOM % 20000) ))
      if as_owner "$bin/pg_ctl" -D "$cluster/data" -l "$cluster/server.log" -w -t 60 \
           -o "-c listen_addresses=127.0.0.1 -p $port -k $cluster -c fsync=off -c full_page_writes=off" start \
           > /dev/null 2>&1; then
        as_owner "$bin/createdb" -h 127.0.0.1 -p "$port" -U dlcost dlcost_test
        echo "postgresql://dlcost@127.0.0.1:$port/dlcost_test"
        exit 0
      fi
    done
    echo "pg_cluster.sh: the server did not start; its log:" >&2
    cat "$cluster/server.log" >&2 || true
    exit 1 ;;
  stop)
    if [[ -f "$dir/cluster" ]]; then
      cluster="$(cat "$dir/cluster")"
      if [[ -d "$cluster/data" ]]; then
        as_owner "$bin/pg_ctl" -D "$cluster/data" -m immediate -w stop > /dev/null 2>&1 || true
      fi
      rm -rf "$cluster"
    fi
    rm -rf "$dir" ;;
  *)
    echo "usage: pg_cluster.sh start|stop DIR" >&2
    exit 2 ;;
esac
