#!/usr/bin/env bash
# Starts project-local PostgreSQL (with pgvector) and Redis when
# DATABASE_URL / REDIS_URL are unset or unreachable, and writes the resulting environment to .data/env.
# Run after scripts/setup.sh (which installs PostgreSQL, pgvector and Redis).
#
# Nothing local is left open: the project-local PostgreSQL asks every role for a password
# (scram-sha-256), the runtime role `workforce_app` gets one of its own, and the project-local
# Redis requires one. Each secret is generated once into .data/ (mode 600) and exported by
# .data/env (mode 600); a cluster or Redis left open by an older set-up is closed on the next run.
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
PG_PORT="${WORKFORCE_PG_PORT:-55432}"
REDIS_PORT="${WORKFORCE_REDIS_PORT:-56379}"

# Another checkout on this machine may run its own services, with its own passwords, on the
# default ports: each checkout uses the first port (from the default on) that is already its own,
# else the first free one.
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
pg_ours_on() { # <port>: this checkout's cluster is running there
  [[ -f "$DATA/pg/postmaster.pid" && "$(sed -n 4p "$DATA/pg/postmaster.pid" 2>/dev/null)" == "$1" ]] \
    && pg_reachable "postgres://postgres@127.0.0.1:$1/postgres"
}
redis_ours_on() { # <port>: this checkout's Redis (with its password, or an older one without)
  redis_reachable "redis://default:$REDIS_PASSWORD@127.0.0.1:$1" \
    || [[ "$(timeout 3 redis-cli -p "$1" config get dir 2>/dev/null | sed -n 2p)" == "$DATA/redis" ]]
}
pick_port() { # <first port> <is-ours function>
  local p
  for p in $(seq "$1" $(( $1 + 20 ))); do "$2" "$p" && { echo "$p"; return; }; done
  for p in $(seq "$1" $(( $1 + 20 ))); do port_busy "$p" || { echo "$p"; return; }; done
  die "no free port from $1 to $(( $1 + 20 ))"
}
[[ -n "$PG_BIN" ]] || die "PostgreSQL server binaries not found under /usr/lib/postgresql (run scripts/setup.sh)"

# A secret kept in .data/<name> (mode 600), made once: 24 random bytes, hex.
secret() {
  local f="$DATA/$1"
  if [[ ! -s "$f" ]]; then (umask 077; head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$f"); fi
  chmod 600 "$f"
  cat "$f"
}

PG_PASSWORD="$(secret pg_password)"
APP_DB_PASSWORD="$(secret app_db_password)"
REDIS_PASSWORD="$(secret redis_password)"

# Closes a cluster made by an older set-up with `trust` auth: sets the superuser's password
# (while trust still lets us in), then asks for passwords from everyone and reloads.
close_trust() { # <pgdata> <as…>
  local pgdata=$1; shift
  grep -Eq '^[^#]*[[:space:]]trust([[:space:]]|$)' "$pgdata/pg_hba.conf" || return 0
  say "project-local PostgreSQL used trust auth: setting passwords (scram-sha-256)"
  psql -q "postgres://postgres@127.0.0.1:$PG_PORT/postgres" -v ON_ERROR_STOP=1 >/dev/null \
    <<< "ALTER ROLE postgres PASSWORD '$PG_PASSWORD'"
  "$@" sed -i -E 's/^([^#]*[[:space:]])trust([[:space:]]|$)/\1scram-sha-256\2/' "$pgdata/pg_hba.conf"
  "$@" "$PG_BIN/pg_ctl" -D "$pgdata" reload >/dev/null
}

start_local_pg() {
  local pgdata="$DATA/pg" sock="$DATA/pg-run"
  PG_PORT="$(pick_port "$PG_PORT" pg_ours_on)"
  DATABASE_URL="postgres://postgres:$PG_PASSWORD@127.0.0.1:$PG_PORT/workforce"
  local as=()
  if [[ "$(id -u)" == 0 ]]; then as=(runuser -u postgres --); fi
  # Already running.
  if pg_ours_on "$PG_PORT"; then
    close_trust "$pgdata" "${as[@]}"
    return 0
  fi
  mkdir -p "$sock"
  if [[ ! -f "$pgdata/PG_VERSION" ]]; then
    say "initdb project-local PostgreSQL in .data/pg (scram-sha-256, password in .data/pg_password)"
    mkdir -p "$pgdata"
    if [[ "$(id -u)" == 0 ]]; then chown postgres:postgres "$pgdata" "$sock"; fi
    # initdb reads the superuser's password from a file the cluster's owner can read.
    local pwfile="$sock/.pwfile"
    (umask 077; printf '%s\n' "$PG_PASSWORD" > "$pwfile")
    if [[ "$(id -u)" == 0 ]]; then chown postgres:postgres "$pwfile"; fi
    "${as[@]}" "$PG_BIN/initdb" -D "$pgdata" -U postgres --auth=scram-sha-256 --pwfile="$pwfile" \
      -E UTF8 --locale=C.UTF-8 >/dev/null
    rm -f "$pwfile"
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
  close_trust "$pgdata" "${as[@]}"
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
if ! psql_url "$MAINT_URL" -q -tAc "SELECT 1 FROM pg_database WHERE datname='$DB_NAME'" | grep -q 1; then
  say "createdb $DB_NAME"
  psql_url "$MAINT_URL" -q -c "CREATE DATABASE \"$DB_NAME\"" >/dev/null
fi
# The runtime role (the migrations create it too, tolerating this) and its password. The role is
# cluster-wide, so the test databases made by the test suite use it as well.
psql_url "$MAINT_URL" -q -v ON_ERROR_STOP=1 >/dev/null <<SQL
DO \$\$ BEGIN
  CREATE ROLE workforce_app LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOINHERIT;
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END \$\$;
ALTER ROLE workforce_app PASSWORD '$APP_DB_PASSWORD';
SQL

# ---- Redis -----------------------------------------------------------------------------------
if [[ -n "${REDIS_URL:-}" ]] && redis_reachable "$REDIS_URL"; then
  say "using REDIS_URL from the environment"
else
  if [[ -n "${REDIS_URL:-}" ]]; then say "REDIS_URL is not reachable; using a project-local Redis"; fi
  REDIS_PORT="$(pick_port "$REDIS_PORT" redis_ours_on)"
  REDIS_URL="redis://default:$REDIS_PASSWORD@127.0.0.1:$REDIS_PORT"
  if redis_reachable "redis://127.0.0.1:$REDIS_PORT"; then
    say "project-local Redis on 127.0.0.1:$REDIS_PORT had no password: restarting it with one"
    timeout 5 redis-cli -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
    for _ in $(seq 50); do redis_reachable "redis://127.0.0.1:$REDIS_PORT" || break; sleep 0.1; done
  fi
  if ! redis_reachable "$REDIS_URL"; then
    say "starting project-local Redis on 127.0.0.1:$REDIS_PORT (password in .data/redis_password)"
    mkdir -p "$DATA/redis"
    # The password goes in through stdin (a config read from '-'), not the command line, which
    # every local user can read.
    printf 'requirepass %s\n' "$REDIS_PASSWORD" | redis-server - --daemonize yes --bind 127.0.0.1 \
      --port "$REDIS_PORT" --save "" --appendonly no \
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

# ---- the first operator account (made by the server at start-up while there is none) --------
WORKFORCE_ADMIN_EMAIL="${WORKFORCE_ADMIN_EMAIL:-operator@localhost.localdomain}"
if [[ -z "${WORKFORCE_ADMIN_PASSWORD:-}" ]]; then
  if [[ ! -s "$DATA/admin_password" ]]; then
    WORKFORCE_ADMIN_PASSWORD="$(secret admin_password)"
    printf '\n    Operator sign-in, shown once: %s / %s\n    (kept in .data/admin_password; set WORKFORCE_ADMIN_EMAIL / WORKFORCE_ADMIN_PASSWORD to choose your own)\n\n' \
      "$WORKFORCE_ADMIN_EMAIL" "$WORKFORCE_ADMIN_PASSWORD"
  fi
  WORKFORCE_ADMIN_PASSWORD="$(secret admin_password)"
fi

# ---- the server's own secret (API-key digests, Redis entry tags) -------------------------------
if [[ -z "${WORKFORCE_SECRET_KEY:-}" ]]; then
  WORKFORCE_SECRET_KEY="$(secret secret_key)"
fi

umask 077
cat > "$DATA/env" <<ENV
export DATABASE_URL='$DATABASE_URL'
export WORKFORCE_APP_DB_PASSWORD='$APP_DB_PASSWORD'
export REDIS_URL='$REDIS_URL'
export WORKFORCE_ADMIN_TOKEN='$WORKFORCE_ADMIN_TOKEN'
export WORKFORCE_SECRET_KEY='$WORKFORCE_SECRET_KEY'
export WORKFORCE_ADMIN_EMAIL='$WORKFORCE_ADMIN_EMAIL'
export WORKFORCE_ADMIN_PASSWORD='$WORKFORCE_ADMIN_PASSWORD'
ENV
chmod 600 "$DATA/env"
say "set-up complete (database postgres://…@${DATABASE_URL##*@}, redis ${REDIS_URL##*@})"
