#!/usr/bin/env bash
# The headless Chromium the review-pack tests and `lepton lineage review-pack --screenshot` drive:
# Debian's package, installed when no browser is found. `make test` calls this, so the README's
# test command needs nothing that CI adds. LEPTON_CHROMIUM (an executable) skips the install.
set -euo pipefail
if [[ -n "${LEPTON_CHROMIUM:-}" ]] || command -v chromium > /dev/null || command -v chromium-browser > /dev/null \
   || command -v google-chrome > /dev/null; then
  exit 0
fi
if [[ "$(id -u)" -eq 0 ]]; then
  SUDO=()
elif command -v sudo > /dev/null && sudo -n true 2> /dev/null; then
  SUDO=(sudo -n)
else
  echo "no headless browser for the review-pack tests: install Chromium (Debian/Ubuntu: apt-get install chromium)" \
       "or set LEPTON_CHROMIUM to its executable" >&2
  exit 1
fi
echo "installing Debian's chromium for the review-pack tests"
export DEBIAN_FRONTEND=noninteractive
log="$(mktemp /tmp/lepton-chromium-apt.XXXXXX)"
"${SUDO[@]}" apt-get install -y -q chromium > "$log" 2>&1 \
  || { "${SUDO[@]}" apt-get update -q > /dev/null 2>&1 && "${SUDO[@]}" apt-get install -y -q chromium > "$log" 2>&1; } \
  || { tail -n 20 "$log" >&2; exit 1; }
