#!/usr/bin/env bash
# Installs what the side-by-side benchmark needs and runs it: our console and noVNC, in the
# same headless Chromium, against the same TigerVNC desktop on loopback.
# Usage: scripts/bench.sh [seconds per workload]
set -euo pipefail
cd "$(dirname "$0")/.."
# trunk finds wasm-opt (binaryen 123, installed by setup.sh) on the PATH.
export PATH="$HOME/.cargo/bin:$PWD/target/tools/binaryen/node_modules/.bin:$PATH"
scripts/setup.sh --tests
dir=target/bench
mkdir -p "$dir"
if [[ ! -f "$dir/node_modules/@novnc/novnc/core/rfb.js" ]]; then
  (cd "$dir" && npm install --silent --no-audit --no-fund @novnc/novnc@1)
fi
if [[ ! -x "$dir/venv/bin/websockify" ]]; then
  python3 -m venv "$dir/venv"
  "$dir/venv/bin/pip" install -q websockify
fi
trunk build --offline --release
LANTERN_BENCH_SECONDS="${1:-10}" cargo bench -p e2e --bench versus_novnc
