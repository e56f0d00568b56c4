#!/usr/bin/env bash
# `make run` → scripts/dev.sh run; `make test` → scripts/dev.sh test.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export PATH="$HOME/.cargo/bin:$PATH"

case "${1:-}" in
  run)
    scripts/setup.sh
    scripts/services.sh
    # shellcheck disable=SC1091
    source .data/env
    export LEPTOS_SITE_ADDR="${LEPTOS_SITE_ADDR:-127.0.0.1:3000}"
    echo "==> serving on http://$LEPTOS_SITE_ADDR (operator token: .data/admin_token unless WORKFORCE_ADMIN_TOKEN is set)"
    # --precompress: the WASM, JS and CSS are also written brotli- and gzip-compressed, and served so.
    exec cargo leptos serve --release --precompress
    ;;
  test)
    scripts/setup.sh --test
    scripts/services.sh
    # shellcheck disable=SC1091
    source .data/env
    # The same RUSTFLAGS as cargo-leptos's debug build, so the end-to-end build below reuses the
    # test build's artifacts instead of building everything twice.
    export RUSTFLAGS="--cfg erase_components"
    # Style, lints (server and browser builds) and the checked SQL's offline data, first: quick,
    # and they fail fast.
    # --all: the test stub crate (tests/stub) too.
    cargo fmt --all --check
    cargo clippy --no-default-features --features ssr --all-targets -- -D warnings
    cargo clippy --no-default-features --features hydrate --target wasm32-unknown-unknown --lib -- -D warnings
    scripts/sqlx-check.sh
    # Unit tests and the integration tests (one binary, tests/it): RLS, REST, conversations,
    # memory, the local models.
    cargo test --no-default-features --features ssr
    # Browser tests: cargo-leptos builds the app, serves it on its own port and runs Playwright.
    export LEPTOS_SITE_ADDR="127.0.0.1:${WORKFORCE_E2E_PORT:-3900}"
    export LEPTOS_RELOAD_PORT="$(( ${WORKFORCE_E2E_PORT:-3900} + 1 ))"
    export E2E_BASE_URL="http://$LEPTOS_SITE_ADDR"
    # The browser tests start their own OpenAI-compatible stub; no real provider is ever called.
    export E2E_STUB_PORT="$(( ${WORKFORCE_E2E_PORT:-3900} + 11 ))"
    export OPENAI_BASE_URL="http://127.0.0.1:$E2E_STUB_PORT/v1" OPENAI_API_KEY="e2e-stub"
    # …and their own MCP server, which the app's outbound rules open (that address and port only).
    export E2E_MCP_PORT="$(( ${WORKFORCE_E2E_PORT:-3900} + 12 ))"
    export WORKFORCE__OUTBOUND__ALLOW="[\"127.0.0.1:$E2E_MCP_PORT\"]"
    # cargo-leptos adds its own `--cfg erase_components` to RUSTFLAGS; left set, the flag would
    # appear twice and every dependency would be built again.
    env -u RUSTFLAGS cargo leptos end-to-end
    ;;
  *)
    echo "usage: scripts/dev.sh run|test" >&2
    exit 2
    ;;
esac
