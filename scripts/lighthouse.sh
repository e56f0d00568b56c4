#!/usr/bin/env bash
# Lighthouse's mobile profile (simulated slow 4G, a slowed CPU) on the dashboard, the wizard and
# the chat of a running server, signed in as a new client it onboards (with three employees).
#
#   make run                     # in another terminal: the release build, served precompressed
#   scripts/lighthouse.sh        # or scripts/lighthouse.sh http://127.0.0.1:3000
#
# Installs Lighthouse under .data/tools the first time (npm). Needs WORKFORCE_ADMIN_TOKEN
# (.data/env has it) and Debian's Chromium. Writes each report to target/lighthouse/*.json.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
BASE="${1:-http://127.0.0.1:3000}"
# shellcheck disable=SC1091
[[ -f .data/env ]] && source .data/env
: "${WORKFORCE_ADMIN_TOKEN:?set WORKFORCE_ADMIN_TOKEN (see .data/env)}"
LH=.data/tools/node_modules/.bin/lighthouse
if [[ ! -x $LH ]]; then
  echo "==> npm install lighthouse@12 (once, into .data/tools)"
  npm install --prefix .data/tools --no-audit --no-fund --loglevel=error lighthouse@12 >/dev/null
fi
json() { node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const j=JSON.parse(s);console.log(eval("j."+process.argv[1]))})' "$1"; }
R=$(curl -sf -X POST "$BASE/api/v1/employees/clients" -H "authorization: Bearer $WORKFORCE_ADMIN_TOKEN" \
  -H 'content-type: application/json' \
  -d "{\"name\":\"Lighthouse $(date +%s)\",\"tier\":\"professional\",\"industry\":\"insurance\",\"allowed_models\":[\"smollm2-135m-instruct\"]}")
CLIENT=$(echo "$R" | json client.id)
KEY=$(echo "$R" | json api_key)
for role in "claims handler" "underwriter" "broker assistant"; do
  E=$(curl -sf -X POST "$BASE/api/v1/employees/clients/$CLIENT/employees" -H "authorization: Bearer $KEY" \
    -H 'content-type: application/json' \
    -d "{\"role\":\"$role\",\"industry\":\"insurance\",\"expertise_areas\":[\"claims\"],\"communication_style\":\"friendly\",\"model_preferences\":{\"primary_model\":\"smollm2-135m-instruct\"}}")
  EMP=$(echo "$E" | json id)
done
mkdir -p target/lighthouse
export CHROME_PATH="${CHROME_PATH:-/usr/bin/chromium}"
for page in dashboard employees/new "employees/$EMP/chat"; do
  name=$(echo "$page" | sed 's|employees/client_[^/]*|employee|; s|/|_|g')
  "$LH" "$BASE/$page" --quiet --output=json --output-path="target/lighthouse/$name.json" \
    --extra-headers="{\"Cookie\":\"wf_client_key=$KEY\"}" \
    --chrome-flags="--headless=new --no-sandbox --disable-gpu --disable-background-networking" \
    --only-categories=performance,accessibility,best-practices >/dev/null 2>&1
  node -e '
const r = require(process.argv[1]), c = r.categories, a = r.audits;
const s = (k) => (a[k].numericValue / 1000).toFixed(2) + " s";
console.log(process.argv[2].padEnd(16), "performance", Math.round(c.performance.score * 100),
  "accessibility", Math.round(c.accessibility.score * 100), "best practices", Math.round(c["best-practices"].score * 100),
  "· FCP", s("first-contentful-paint"), "LCP", s("largest-contentful-paint"), "TBT", s("total-blocking-time"),
  "TTI", s("interactive"));
for (const cat of ["accessibility", "best-practices"]) for (const ref of c[cat].auditRefs) {
  const x = a[ref.id]; if (x.score !== null && x.score < 1 && ref.weight > 0) console.log("   ", cat, "fails", ref.id, "-", x.title); }
' "$PWD/target/lighthouse/$name.json" "$name"
done
