# Shared by scripts/setup.sh and scripts/services.sh (sourced, not run).
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DATA="$ROOT/.data"
mkdir -p "$DATA"

say() { printf '==> %s\n' "$*"; }
die() { printf 'setup: %s\n' "$*" >&2; exit 1; }

SUDO=""
if [[ "$(id -u)" != 0 ]] && command -v sudo >/dev/null && sudo -n true 2>/dev/null; then SUDO="sudo"; fi

APT_UPDATED=0
# Installs the Debian packages that are missing, or stops with one line naming them.
apt_install() {
  local missing=()
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [[ ${#missing[@]} -eq 0 ]] && return 0
  if [[ "$(id -u)" != 0 && -z "$SUDO" ]]; then
    die "please install these Debian packages first (needs root): apt-get install ${missing[*]}"
  fi
  say "apt-get install ${missing[*]}"
  if [[ $APT_UPDATED == 0 ]]; then $SUDO apt-get update -qq; APT_UPDATED=1; fi
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# Installs PACKAGES unless COMMAND is already on PATH (whatever provided it).
need_cmd() {
  local cmd=$1; shift
  command -v "$cmd" >/dev/null 2>&1 || apt_install "$@"
}

PG_BIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
PG_MAJOR="$( [[ -n "$PG_BIN" ]] && basename "$(dirname "$PG_BIN")" || true)"

pg_reachable() { pg_isready -q -d "$1" -t 2 >/dev/null 2>&1; }
# A password in a URL is kept off the command line (which every local user can read): psql gets it
# through PGPASSWORD, redis-cli through REDISCLI_AUTH. url_pw <url> prints the (percent-decoded)
# password, url_nopw <url> the URL without it.
url_pw() { [[ $1 =~ ^[a-z]+://[^:@/]*:([^@/]*)@ ]] && printf '%b' "${BASH_REMATCH[1]//%/\\x}"; true; }
url_nopw() { if [[ $1 =~ ^([a-z]+://[^:@/]*):[^@/]*@(.*)$ ]]; then printf '%s@%s' "${BASH_REMATCH[1]}" "${BASH_REMATCH[2]}"; else printf '%s' "$1"; fi; }
psql_url() { # <url> <psql args…>
  local url=$1 pw; shift; pw="$(url_pw "$url")"
  if [[ -n $pw ]]; then PGPASSWORD="$pw" psql "$(url_nopw "$url")" "$@"; else psql "$url" "$@"; fi
}
redis_reachable() {
  local pw url; pw="$(url_pw "$1")"; url="$(url_nopw "$1")"
  if [[ -n $pw ]]; then
    # redis-cli takes "redis://user@host" as password "user": send the password for the default user.
    [[ $url =~ ^(rediss?://)(default)?@(.*)$ ]] && url="${BASH_REMATCH[1]}${BASH_REMATCH[3]}"
    [[ "$(REDISCLI_AUTH="$pw" timeout 3 redis-cli -u "$url" ping 2>/dev/null)" == PONG ]]
  else
    [[ "$(timeout 3 redis-cli -u "$url" ping 2>/dev/null)" == PONG ]]
  fi
}
