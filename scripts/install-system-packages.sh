#!/usr/bin/env bash
# Debian packages the test suite and benchmarks drive as real programs: Prometheus/promtool (alert
# rules and a real scrape), Chromium (the Streamlit browser test), wrk (API load benchmark). Idempotent: installs only what is missing.
# Without root or apt (e.g. a developer laptop), it says what is missing and leaves it to you;
# the tests that need a missing program skip with that reason.
set -euo pipefail

declare -A wanted=(
  [promtool]=prometheus
  [prometheus]=prometheus
  [chromium]=chromium
  [wrk]=wrk
)
missing=()
for cmd in "${!wanted[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || missing+=("${wanted[$cmd]}")
done
if [ ! -d /usr/share/fonts/truetype/liberation ]; then missing+=(fonts-liberation); fi
[ ${#missing[@]} -eq 0 ] && exit 0
mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)

if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "note: missing system packages (${missing[*]}); install them to run every test" >&2
  exit 0
fi
echo "installing system packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# The Debian package starts a Prometheus service on :9090; the tests run their own.
if command -v service >/dev/null 2>&1; then service prometheus stop >/dev/null 2>&1 || true; fi
pkill -x prometheus >/dev/null 2>&1 || true
