#!/usr/bin/env bash
# Starts project-local PostgreSQL (with pgvector) and Redis when
# DATABASE_URL / REDIS_URL are unset or unreachable, and writes the resulting environment to .data/env.
# Run after scripts/setup.sh (which installs PostgreSQL, pgvector and Redis).
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
PG_PORT="${WORKFORCE_PG_PORT:-55432}"
REDIS_PORT="${WORKFORCE_REDIS_PORT:-56379}"
[[ -n "$PG_BIN" ]] || die "PostgreSQL server binaries not found under /usr/lib/postgresql (run scripts/setup.sh)"

start_local_pg() {
  local pgdata="$DATA/pg" sock="$DATA/pg-run"
  DATABASE_URL="postgres://postgres@127.0.0.1:$PG_PORT/workforce"
  # Already running (this checkout's cluster, or another checkout's on the same port).
  if pg_reachable "postgres://postgres@127.0.0.1:$PG_PORT/postgres"; then return 0; fi
  local as=()
  if [[ "$(id -u)" == 0 ]]; then as=(runuser -u postgres --); fi
  mkdir -p "$sock"
  if [[ ! -f "$pgdata/PG_VERSION" ]]; then
    say "initdb project-local PostgreSQL in .data/pg"
    mkdir -p "$pgdata"
    if [[ "$(id -u)" == 0 ]]; then chown postgres:postgres "$pgdata" "$sock"; fi
    "${as[@]}" "$PG_BIN/initdb" -D "$pgdata" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
  fi
  if [[ "$(id -u)" == 0 ]]; then chown postgres:postgres "$sock"; fi
  # shared_buffers: a quarter of the memory, at most 4 GB (PostgreSQL's usual advice; the
  # default 128 MB would send most memory recall reads to the kernel).
  local mem_mb; mem_mb=$(awk '/MemTotal/ {print int($2 / 1024)}' /proc/meminfo 2>/dev/null || echo 1024)
  local buffers_mb=$(( mem_mb / 4 > 4096 ? 4096 : mem_mb / 4 ))
  (( buffers_mb < 128 )) && buffers_mb=128
  say "starting project-local PostgreSQL on 127.0.0.1:$PG_PORT (shared_buffers ${buffers_mb}MB)"
  "${as[@]}" "$PG_BIN/pg_ctl" -D "$pgdata" -l "$pgdata/server.log" -w -t 60 \
    -o "-p $PG_PORT -c listen_addresses=127.0.0.1 -c unix_socket_directories=$sock -c max_connections=200 -c shared_buffers=${buffers_mb}MB" \
    start >/dev/null || die "PostgreSQL did not start; see .data/pg/server.log"
}

if [[ -n "${DATABASE_URL:-}" ]] && pg_reachable "$DATABASE_URL"; then
  say "using DATABASE_URL from the environment"
else
  if [[ -n "${DATABASE_URL:-}" ]]; then say "DATABASE_URL is not reachable; using a project-local PostgreSQL"; fi
  start_local_pg
fi
# Create the database when it is missing (connect to the maintenance db of the same server).
DB_NAME="${DATABASE_URL##*/}"; DB_NAME="${DB_NAME%%\?*}"
MAINT_URL="${DATABASE_URL%/*}/postgres"
if ! psql -q "$MAINT_URL" -tAc "SELECT 1 FROM pg_database WHERE datname='$DB_NAME'" | grep -q 1; then
  say "createdb $DB_NAME"
  psql -q "$MAINT_URL" -c "CREATE DATABASE \"$DB_NAME\"" >/dev/null
fi

# ---- Redis -----------------------------------------------------------------------------------
if [[ -n "${REDIS_URL:-}" ]] && redis_reachable "$REDIS_URL"; then
  say "using REDIS_URL from the environment"
else
  if [[ -n "${REDIS_URL:-}" ]]; then say "REDIS_URL is not reachable; using a project-local Redis"; fi
  REDIS_URL="redis://127.0.0.1:$REDIS_PORT"
  if ! redis_reachable "$REDIS_URL"; then
    say "starting project-local Redis on 127.0.0.1:$REDIS_PORT"
    mkdir -p "$DATA/redis"
    redis-server --daemonize yes --bind 127.0.0.1 --port "$REDIS_PORT" --save "" --appendonly no \
      --dir "$DATA/redis" --pidfile "$DATA/redis/redis.pid" --logfile "$DATA/redis/redis.log"
    for _ in $(seq 50); do redis_reachable "$REDIS_URL" && break; sleep 0.1; done
    redis_reachable "$REDIS_URL" || die "Redis did not start; see .data/redis/redis.log"
  fi
fi

# ---- operator token --------------------------------------------------------------------------
if [[ -z "${WORKFORCE_ADMIN_TOKEN:-}" ]]; then
  if [[ ! -s "$DATA/admin_token" ]]; then
    (umask 077; head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$DATA/admin_token")
    printf '\n    Operator (admin) token, shown once: %s\n    (kept in .data/admin_token; set WORKFORCE_ADMIN_TOKEN to choose your own)\n\n' \
      "$(cat "$DATA/admin_token")"
  fi
  WORKFORCE_ADMIN_TOKEN="$(cat "$DATA/admin_token")"
fi

umask 077
cat > "$DATA/env" <<ENV
export DATABASE_URL='$DATABASE_URL'
export REDIS_URL='$REDIS_URL'
export WORKFORCE_ADMIN_TOKEN='$WORKFORCE_ADMIN_TOKEN'
ENV
say "set-up complete (database ${DATABASE_URL%%@*}@…/$DB_NAME, redis $REDIS_URL)"
