#!/usr/bin/env bash
# Install the servers leaklab runs natively, from the system's packages, only when missing
# (with --browser, Chromium too: the test suite drives the Leaks view in it).
# leaklab starts its own copies on 127.0.0.1 in its run directory, so the packaged
# services are neither needed nor started here.
set -euo pipefail

# command -> Debian package
declare -A DEBIAN=(
  [initdb]=postgresql
  [redis-server]=redis-server
  [prometheus]=prometheus
  [promtool]=prometheus
  [prometheus-postgres-exporter]=prometheus-postgres-exporter
  [prometheus-redis-exporter]=prometheus-redis-exporter
)
BREW="brew install postgresql@15 redis prometheus postgres_exporter redis_exporter"
# --browser: also Chromium, for the tests that open the Leaks view in a real browser, and
# tmux, for the test that runs the talk in a terminal of a projector's size.
if [ "${1:-}" = "--browser" ]; then
  DEBIAN[chromium]=chromium
  DEBIAN[tmux]=tmux
  BREW="$BREW tmux && brew install --cask chromium"
fi

have() {
  case "$1" in
    initdb) command -v initdb >/dev/null 2>&1 || compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null ;;
    prometheus-*-exporter) command -v "$1" >/dev/null 2>&1 || command -v "${1#prometheus-}" >/dev/null 2>&1 \
      || command -v "$(echo "${1#prometheus-}" | tr - _)" >/dev/null 2>&1 ;;
    chromium) command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 \
      || command -v google-chrome >/dev/null 2>&1 ;;
    *) command -v "$1" >/dev/null 2>&1 ;;
  esac
}

missing=()
for cmd in "${!DEBIAN[@]}"; do
  have "$cmd" || missing+=("$cmd")
done
extra=""
# Debian splits venv support out of python3: `make` needs it to create .venv.
if ! "${PYTHON:-python3}" -c 'import ensurepip, venv' >/dev/null 2>&1; then
  missing+=("python3-venv"); extra="python3-venv"
fi
[ ${#missing[@]} -eq 0 ] && exit 0

packages=$(
  for cmd in "${missing[@]}"; do
    if [ -n "${DEBIAN[$cmd]:-}" ]; then echo "${DEBIAN[$cmd]}"; fi
  done
  if [ -n "$extra" ]; then echo "$extra"; fi
)
packages=$(echo "$packages" | sort -u | tr '\n' ' ')
echo "leaklab: missing ${missing[*]}; installing: $packages"

if [ -n "${LEAKLAB_NO_SYSTEM_INSTALL:-}" ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "leaklab: cannot install them here. Install them, then run the command again:" >&2
  echo "  Debian/Ubuntu: sudo apt-get update && sudo apt-get install --no-install-recommends $packages" >&2
  echo "  macOS:         $BREW" >&2
  exit 2
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    SUDO="sudo"
  else
    echo "leaklab: installing $packages needs root; run: sudo apt-get install $packages" >&2
    exit 2
  fi
fi

# Keep apt from starting the packaged services (they would take ports such as 9090);
# leaklab runs its own servers. An existing policy is left as it is.
policy=/usr/sbin/policy-rc.d
added_policy=""
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
  $SUDO chmod +x "$policy"
  added_policy=1
fi
cleanup() { [ -n "$added_policy" ] && $SUDO rm -f "$policy"; return 0; }
trap cleanup EXIT

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
# shellcheck disable=SC2086
$SUDO apt-get install -y -q --no-install-recommends $packages
