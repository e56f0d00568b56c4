#!/usr/bin/env bash
# Checks that the committed .sqlx/ data (what the checked queries compile from) matches the SQL
# and the schema: migrates a scratch database and runs `cargo sqlx prepare --check` against it.
# After changing a query or a migration, run it with `--write` to regenerate the data.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
: "${DATABASE_URL:?DATABASE_URL must be set (source .data/env)}"
BASE="${DATABASE_URL%%\?*}"
CHECK_URL="${BASE%/*}/workforce_sqlx_check"
MAINT_URL="${BASE%/*}/postgres"
PGOPTIONS="--client-min-messages=warning" psql_url "$MAINT_URL" -q -c "DROP DATABASE IF EXISTS workforce_sqlx_check" -c "CREATE DATABASE workforce_sqlx_check" >/dev/null
DATABASE_URL="$CHECK_URL" cargo sqlx migrate run --source migrations >/dev/null
if [[ "${1:-}" == "--write" ]]; then
  DATABASE_URL="$CHECK_URL" cargo sqlx prepare -- --no-default-features --features ssr --lib
else
  DATABASE_URL="$CHECK_URL" cargo sqlx prepare --check -- --no-default-features --features ssr --lib
fi
say "checked SQL: .sqlx/ matches the queries and the schema"
