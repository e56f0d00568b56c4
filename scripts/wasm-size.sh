#!/usr/bin/env bash
# The browser bundle as `make run` ships it, measured: cargo-leptos's release front end, split by
# page (the `wasm-release` profile, `wasm-opt -Oz`, `--split`), and for every page the raw,
# gzip -9 and brotli bytes it downloads before it is interactive: the shell (the main WASM and
# the JS) and the page's own WASM files. With `--top N` it instead builds the whole, unsplit
# WASM and lists the N crates that weigh most in it before wasm-opt (from the function names).
#
#   scripts/wasm-size.sh            # ~6 min cold on 2 cores, ~3 min after a change
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

if [[ "$TOP" == 0 ]]; then
  # What `make run` ships: cargo-leptos's release front end, split by page (`--split`), built
  # into a site root of its own so a running server's files are left alone.
  rm -rf "$OUT/site"
  LEPTOS_SITE_ROOT="$OUT/site" cargo leptos build --release --split --frontend-only >/dev/null
  PKG="$OUT/site/pkg"
  node - "$PKG" <<'JS'
const fs = require("fs"), zlib = require("zlib"), path = require("path");
const pkg = process.argv[2];
const files = fs.readdirSync(pkg);
const sizes = (f) => {
  const b = fs.readFileSync(path.join(pkg, f));
  return [b.length, zlib.gzipSync(b, { level: 9 }).length,
    zlib.brotliCompressSync(b, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 11 } }).length];
};
const main = files.find((f) => /^workforce\..*\.wasm$/.test(f));
const js = files.filter((f) => /^(workforce\..*|__wasm_split\..*)\.js$/.test(f));
const manifest = JSON.parse(fs.readFileSync(path.join(pkg, files.find((f) => f.startsWith("__wasm_split_manifest"))), "utf8"));
const shell = [main, ...js];
const sum = (list) => list.map(sizes).reduce((a, s) => a.map((x, i) => x + s[i]), [0, 0, 0]);
const row = (name, list) => {
  const [raw, gz, br] = sum(list);
  console.log(`${name.padEnd(22)} files ${String(list.length).padStart(3)}  raw ${String(raw).padStart(9)}  gzip ${String(gz).padStart(8)}  brotli ${String(br).padStart(8)}`);
};
row("shell (main + JS)", shell);
row("all WASM files", files.filter((f) => f.endsWith(".wasm")));
console.log("what each page downloads before it is interactive (the shell and its page's files):");
for (const [split, chunks] of Object.entries(manifest).sort()) {
  const page = split.replace(/^__/, "").replace(/_route_view_\d+$/, "");
  row(page, [...shell, ...chunks.map((c) => c + ".wasm")]);
}
JS
  exit 0
fi

RUSTFLAGS="$FLAGS" cargo build --lib --profile wasm-release \
  --target wasm32-unknown-unknown --no-default-features --features hydrate --quiet
wasm-bindgen "${CARGO_TARGET_DIR:-target}/wasm32-unknown-unknown/wasm-release/workforce.wasm" \
  --out-dir "$OUT" --out-name workforce --target web --no-typescript --keep-debug
cp "$OUT/workforce_bg.wasm" "$OUT/named.wasm"
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
