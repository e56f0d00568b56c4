#!/usr/bin/env bash
# The browser bundle as `make run` ships it, measured: builds the release WASM (the
# `wasm-release` profile), runs wasm-bindgen and `wasm-opt -Oz` as cargo-leptos does, and prints
# the raw, gzip -9 and brotli sizes of the WASM and its JS. With `--top N` it also lists the N
# crates that weigh most in the WASM before wasm-opt (from the function names).
#
#   scripts/wasm-size.sh            # ~5 min cold on 2 cores, ~2 min after a change
#   scripts/wasm-size.sh --top 15
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export PATH="$HOME/.cargo/bin:$PWD/node_modules/.bin:$PATH"
TOP=0
if [[ "${1:-}" == "--top" ]]; then TOP="${2:-15}"; fi

OUT=target/wasm-size
mkdir -p "$OUT"
# As cargo-leptos's release front-end build: the `wasm-release` profile, and
# `--cfg erase_components` when Cargo.toml asks for it in release too.
FLAGS=""
if grep -q '^always-erase-components = true' Cargo.toml; then FLAGS="--cfg erase_components"; fi
RUSTFLAGS="$FLAGS" cargo build --lib --profile wasm-release \
  --target wasm32-unknown-unknown --no-default-features --features hydrate --quiet
wasm-bindgen "${CARGO_TARGET_DIR:-target}/wasm32-unknown-unknown/wasm-release/workforce.wasm" \
  --out-dir "$OUT" --out-name workforce --target web --no-typescript --keep-debug
cp "$OUT/workforce_bg.wasm" "$OUT/named.wasm"
wasm-opt -Oz --enable-bulk-memory --enable-nontrapping-float-to-int --strip-debug \
  "$OUT/workforce_bg.wasm" -o "$OUT/workforce_bg.wasm"

size() { # <file>: raw, gzip -9, brotli (best) in bytes
  local raw gz br
  raw=$(stat -c %s "$1")
  gz=$(gzip -9 -c "$1" | wc -c)
  if command -v brotli >/dev/null; then br=$(brotli -q 11 -c "$1" | wc -c); else
    br=$(node -e "const z=require('zlib'),f=require('fs');process.stdout.write(String(z.brotliCompressSync(f.readFileSync(process.argv[1]),{params:{[z.constants.BROTLI_PARAM_QUALITY]:11}}).length))" "$1"); fi
  printf "%-28s raw %8d  gzip %8d  brotli %8s\n" "$(basename "$1")" "$raw" "$gz" "$br"
}
size "$OUT/workforce_bg.wasm"
size "$OUT/workforce.js"

if [[ "$TOP" != 0 ]]; then
  echo "largest crates in the WASM before wasm-opt (bytes of code, by the crate in the function's name):"
  node - "$OUT/named.wasm" "$TOP" <<'JS'
const fs = require("fs");
const [file, top] = process.argv.slice(2);
const buf = fs.readFileSync(file);
const mod = new WebAssembly.Module(buf);
// Function bodies' sizes from the code section, names from the "name" custom section.
let p = 8; const sections = {};
const leb = () => { let r = 0, s = 0, b; do { b = buf[p++]; r |= (b & 0x7f) << s; s += 7; } while (b & 0x80); return r >>> 0; };
while (p < buf.length) { const id = buf[p++]; const len = leb(); const start = p; sections[id] = sections[id] || []; sections[id].push([start, len]); p = start + len; }
const imports = WebAssembly.Module.imports(mod).filter((i) => i.kind === "function").length;
const [cs] = sections[10]; p = cs[0]; const n = leb(); const sizes = [];
for (let i = 0; i < n; i++) { const len = leb(); sizes.push(len); p += len; }
const names = {};
for (const [start, len] of sections[0] || []) {
  p = start; const nl = leb(); const name = buf.slice(p, p + nl).toString(); p += nl;
  if (name !== "name") continue;
  while (p < start + len) { const sub = buf[p++]; const sl = leb(); const end = p + sl;
    if (sub === 1) { const count = leb(); for (let i = 0; i < count; i++) { const idx = leb(); const l = leb(); names[idx] = buf.slice(p, p + l).toString(); p += l; } }
    p = end; }
}
const byCrate = {};
sizes.forEach((s, i) => {
  const name = names[i + imports] || "?";
  const m = name.match(/^(?:<)?_?(?:ZN)?\d*([A-Za-z_][A-Za-z0-9_]*)/);
  let crate = (name.match(/([a-z_][a-z0-9_]*)::/) || [])[1] || (m && m[1]) || "?";
  byCrate[crate] = (byCrate[crate] || 0) + s;
});
const total = sizes.reduce((a, b) => a + b, 0);
Object.entries(byCrate).sort((a, b) => b[1] - a[1]).slice(0, Number(top)).forEach(([c, s]) =>
  console.log(`  ${c.padEnd(24)} ${String(s).padStart(9)}  ${(100 * s / total).toFixed(1)}%`));
console.log(`  ${"(all code)".padEnd(24)} ${String(total).padStart(9)}`);
JS
fi
