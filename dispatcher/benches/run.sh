#!/usr/bin/env bash
# Runs every dispatcher benchmark: durable ingest, nearest unit (with its Redis and PostGIS
# baselines), the classifier and the websocket fan-out (with its bare tokio-tungstenite
# baseline; about 4 minutes of the run).
#
#   bash dispatcher/benches/run.sh
#
# Installs what it needs with apt-get (redis-server, PostgreSQL + PostGIS), starts throwaway
# Redis and PostgreSQL instances on free loopback ports under a temporary folder (PostgreSQL
# as the `postgres` user), runs the benches with cargo's release profile, and stops and
# removes the instances on exit. The full output is also written to
# target/bench-results/run-<date>.txt. The ordinary test suite needs none of this.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

# ---------------------------------------------------------------- packages
packages=()
command -v redis-server >/dev/null 2>&1 || packages+=(redis-server)
PG_VERSION="$(ls /usr/lib/postgresql 2>/dev/null | sort -V | tail -1 || true)"
if [ -z "$PG_VERSION" ]; then
    packages+=(postgresql)
fi
if [ ${#packages[@]} -gt 0 ]; then
    echo "== installing ${packages[*]}"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${packages[@]}" >/dev/null
    PG_VERSION="$(ls /usr/lib/postgresql | sort -V | tail -1)"
fi
if [ ! -f "/usr/share/postgresql/$PG_VERSION/extension/postgis.control" ]; then
    pkg="$(apt-cache search --names-only "^postgresql-$PG_VERSION-postgis-[0-9]+$" 2>/dev/null | awk '{print $1}' | sort -V | tail -1)"
    if [ -z "$pkg" ]; then
        as_root apt-get update -qq
        pkg="$(apt-cache search --names-only "^postgresql-$PG_VERSION-postgis-[0-9]+$" | awk '{print $1}' | sort -V | tail -1)"
    fi
    [ -n "$pkg" ] || { echo "no PostGIS package for PostgreSQL $PG_VERSION" >&2; exit 1; }
    echo "== installing $pkg"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$pkg" >/dev/null
fi
PG_BIN="/usr/lib/postgresql/$PG_VERSION/bin"

# ---------------------------------------------------------------- build first
echo "== building the benches (release profile)"
cargo bench -p dispatcher --bench ingest --bench nearest --bench classify --bench fanout --no-run

# ---------------------------------------------------------------- services
free_port() {
    local p
    while :; do
        p=$(( 20000 + RANDOM % 40000 ))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
            echo "$p"
            return
        fi
    done
}

WORK="$(mktemp -d /var/tmp/dispatcher-bench.XXXXXX)"
chmod 755 "$WORK"
REDIS_PID=""
PG_STARTED=""
if [ "$(id -u)" = 0 ]; then
    PG_USER=postgres
    as_pg() { runuser -u postgres -- "$@"; }
else
    PG_USER="$(id -un)"
    as_pg() { "$@"; }
fi

cleanup() {
    set +e
    if [ -n "$PG_STARTED" ]; then
        as_pg "$PG_BIN/pg_ctl" -D "$WORK/pg/data" -m fast -w stop >/dev/null
    fi
    if [ -n "$REDIS_PID" ]; then
        kill "$REDIS_PID" 2>/dev/null
        wait "$REDIS_PID" 2>/dev/null
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

REDIS_PORT="$(free_port)"
mkdir -p "$WORK/redis"
redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save '' --appendonly no \
    --dir "$WORK/redis" --logfile "$WORK/redis/redis.log" --daemonize no &
REDIS_PID=$!
for _ in $(seq 300); do
    redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break
    sleep 0.1
done
if ! redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1; then
    echo "redis-server did not start on port $REDIS_PORT:" >&2
    cat "$WORK/redis/redis.log" >&2 || true
    exit 1
fi

PG_PORT="$(free_port)"
mkdir -p "$WORK/pg/data" "$WORK/pg/sock"
[ "$(id -u)" = 0 ] && chown -R postgres:postgres "$WORK/pg"
as_pg "$PG_BIN/initdb" -D "$WORK/pg/data" -U "$PG_USER" -A trust -E UTF8 >/dev/null
as_pg "$PG_BIN/pg_ctl" -D "$WORK/pg/data" -l "$WORK/pg/log" -w \
    -o "-p $PG_PORT -c listen_addresses=127.0.0.1 -k $WORK/pg/sock" start >/dev/null
PG_STARTED=1
as_pg "$PG_BIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U "$PG_USER" -d postgres -qc "CREATE DATABASE bench" >/dev/null
as_pg "$PG_BIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U "$PG_USER" -d bench -qc "CREATE EXTENSION postgis" >/dev/null

export BENCH_REDIS_URL="redis://127.0.0.1:$REDIS_PORT/"
export BENCH_POSTGIS_URL="host=127.0.0.1 port=$PG_PORT user=$PG_USER dbname=bench"
mkdir -p "$WORK/data"
export BENCH_TMPDIR="$WORK/data"

# ---------------------------------------------------------------- run
mkdir -p target/bench-results
OUT="target/bench-results/run-$(date -u +%Y%m%dT%H%M%SZ).txt"
{
    echo "# dispatcher benchmarks, $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet 2>/dev/null || echo ' (with local changes)')"
    echo "nproc: $(nproc); cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'); memory: $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
    echo "redis: $(redis-server --version | awk '{print $3}'); postgresql: $("$PG_BIN/postgres" --version | awk '{print $3}'); postgis: $(as_pg "$PG_BIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U "$PG_USER" -d bench -Atc 'SELECT extversion FROM pg_extension WHERE extname = '"'"'postgis'"'"'')"
    echo "sqlite/data dir: $BENCH_TMPDIR ($(df -T "$BENCH_TMPDIR" | awk 'NR==2 {print $2}'))"
    echo
    for bench in ingest nearest classify fanout; do
        echo "=================================================================== $bench"
        cargo bench -q -p dispatcher --bench "$bench" 2>&1
        echo
    done
} 2>&1 | tee "$OUT"
echo "== output saved in $OUT"
