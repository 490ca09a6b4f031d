#!/usr/bin/env bash
# Installs what is missing, builds the web console and the controller, and starts the
# controller with its embedded `local` host. Extra arguments go to controller-server
# (e.g. --config lantern.toml).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
scripts/setup.sh
trunk build --offline --release
cargo build --release -p controller-server
exec target/release/controller-server "$@"
