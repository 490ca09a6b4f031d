#!/usr/bin/env bash
# Installs what is missing, builds the web console and the controller, and starts the
# controller with its embedded `local` host. Extra arguments go to controller-server
# (e.g. --config lantern.toml).
set -euo pipefail
cd "$(dirname "$0")/.."
# trunk finds wasm-opt (binaryen 123, installed by setup.sh) on the PATH.
export PATH="$HOME/.cargo/bin:$PWD/target/tools/binaryen/node_modules/.bin:$PATH"
scripts/setup.sh
trunk build --offline --release
cargo build --release -p controller-server
exec target/release/controller-server "$@"
