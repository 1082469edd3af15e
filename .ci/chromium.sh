#!/usr/bin/env bash
# Headless Chromium for the sweep's index page test (src/test/java/disco/sweep/SweepIndexChromiumTest.java).
#
#   .ci/chromium.sh install   apt-get installs Debian's chromium when no chromium is on PATH (root)
#   .ci/chromium.sh check     opens a blank page headless with the flags the test uses; exit 0 when Chromium runs
#
# With DISCO_CHROMIUM_TEST=1 in the environment (CI sets it) the test fails instead of skipping when Chromium is
# missing or cannot run.
set -euo pipefail

cmd="${1:-}"

browser() {
  local c
  for c in chromium chromium-browser google-chrome google-chrome-stable; do
    if command -v "$c" >/dev/null 2>&1; then command -v "$c"; return 0; fi
  done
  return 1
}

case "$cmd" in
  install)
    if browser >/dev/null; then exit 0; fi
    if [[ $(id -u) != 0 ]]; then
      echo "chromium.sh: chromium is not installed and this is not root: apt-get install chromium" >&2
      exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-get install -y -q --no-install-recommends chromium >/tmp/disco-chromium-apt.log 2>&1; then
      apt-get update -q >>/tmp/disco-chromium-apt.log 2>&1
      apt-get install -y -q --no-install-recommends chromium >>/tmp/disco-chromium-apt.log 2>&1 \
        || { tail -20 /tmp/disco-chromium-apt.log >&2; exit 1; }
    fi
    browser >/dev/null || { echo "chromium.sh: chromium installed but not found on PATH" >&2; exit 1; }
    ;;
  check)
    b="$(browser)" || { echo "chromium.sh: no chromium on PATH (.ci/chromium.sh install)" >&2; exit 1; }
    profile="$(mktemp -d)"
    trap 'rm -rf "$profile"' EXIT
    "$b" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking \
      --disable-component-update --disable-sync --user-data-dir="$profile" --dump-dom about:blank >/dev/null 2>"$profile.log" \
      || { tail -20 "$profile.log" >&2; rm -f "$profile.log"; exit 1; }
    rm -f "$profile.log"
    echo "chromium: $b runs headless"
    ;;
  *)
    echo "usage: chromium.sh install | check" >&2
    exit 2
    ;;
esac
