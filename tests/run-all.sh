#!/usr/bin/env bash
# Runs every test of the project on a fresh machine: formatting, lints, unit
# and end-to-end tests on SQLite and PostgreSQL, and the browser tests in
# headless Chromium. Installs what it needs from Debian's packages and starts
# a throwaway PostgreSQL cluster on loopback for the duration.
#
#   bash tests/run-all.sh
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

need_apt=()
# The server (initdb, pg_ctl), not just the client that some images carry.
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need_apt+=(postgresql)
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
command -v node >/dev/null 2>&1 || need_apt+=(nodejs npm)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "== installing ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

pgbin=$(dirname "$(ls /usr/lib/postgresql/*/bin/initdb | sort -V | tail -n 1)")
pgdir=$(mktemp -d /tmp/dispatcher-pg.XXXXXX)
chmod 755 "$pgdir"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
as_pg() { if [ "$(id -u)" = 0 ]; then chown -R postgres "$pgdir"; runuser -u postgres -- "$@"; else "$@"; fi; }
stop_pg() { as_pg "$pgbin/pg_ctl" -D "$pgdir/data" -m immediate stop >/dev/null 2>&1 || true; rm -rf "$pgdir"; }
trap stop_pg EXIT
echo "== starting a throwaway PostgreSQL on 127.0.0.1:$port"
as_pg "$pgbin/initdb" -D "$pgdir/data" -U postgres --auth=trust -E UTF8 >/dev/null
as_pg "$pgbin/pg_ctl" -D "$pgdir/data" -l "$pgdir/log" -w \
  -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$pgdir -c max_connections=300 -c fsync=on -c synchronous_commit=on" start >/dev/null
export TEST_DATABASE_URL="postgres://postgres@127.0.0.1:$port/postgres"

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --quiet -- -D warnings
echo "== cargo test (unit, end-to-end, SQLite and PostgreSQL)"
cargo build -p dispatcher --bins --quiet
cargo test --workspace --quiet 2>&1 | tee "$pgdir/cargo-test.log" | grep -Ev '^(running [0-9]+ tests?|)$' || true
if grep -qE '^test result: FAILED|error: test failed|could not compile' "$pgdir/cargo-test.log"; then
  echo "cargo test failed"; exit 1
fi
total_passed=$(grep -oE '^test result: ok\. [0-9]+ passed' "$pgdir/cargo-test.log" | awk '{s+=$4} END {print s+0}')

echo "== browser tests (headless Chromium)"
(cd tests/browser && npm ci --silent --no-audit --no-fund)
DISPATCHER_BIN="$root/target/debug/dispatcher" DISPATCHER_UI_DIR="$root/console-ui" node tests/browser/e2e.mjs

echo "cargo: $total_passed passed, 0 failed"
