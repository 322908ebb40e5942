#!/usr/bin/env bash
# Debian packages the test suite and benchmarks drive as real programs: Prometheus/promtool (alert
# rules and a real scrape), Chromium (the Streamlit browser test), redis-server (fault tests start
# their own), wrk (API load benchmark). Idempotent: installs only what is missing.
# Without root or apt (e.g. a developer laptop), it says what is missing and leaves it to you;
# the tests that need a missing program skip with that reason (and fail when CI is set).
# terraform is no Debian package: install HashiCorp's binary (CI uses hashicorp/setup-terraform).
set -euo pipefail

declare -A wanted=(
  [promtool]=prometheus
  [prometheus]=prometheus
  [chromium]=chromium
  [redis-server]=redis-server
  [wrk]=wrk
)
missing=()
for cmd in "${!wanted[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || missing+=("${wanted[$cmd]}")
done
if [ ! -d /usr/share/fonts/truetype/liberation ]; then missing+=(fonts-liberation); fi
command -v terraform >/dev/null 2>&1 \
  || echo "note: terraform is not installed (HashiCorp's binary; the Terraform tests need it)" >&2
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
# The Debian package starts a Prometheus service on :9090; the tests run their own. Stop only that
# service (its pid file), never a Prometheus some test or benchmark started.
if command -v service >/dev/null 2>&1; then service prometheus stop >/dev/null 2>&1 || true; fi
if [ -f /run/prometheus/prometheus.pid ]; then
  kill "$(cat /run/prometheus/prometheus.pid)" >/dev/null 2>&1 || true
fi
