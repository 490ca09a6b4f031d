#!/usr/bin/env bash
# Installs what is missing and runs every check and test: format, lints, the architecture
# guard, native unit/property/integration tests, the known-answer tests in headless Chromium
# (Wasm), the end-to-end tests (headless Chromium, a real QEMU guest), and a short run of every
# fuzz target.
set -euo pipefail
cd "$(dirname "$0")/.."
# trunk finds wasm-opt (binaryen 123, installed by setup.sh) on the PATH.
export PATH="$HOME/.cargo/bin:$PWD/target/tools/binaryen/node_modules/.bin:$PATH"
scripts/setup.sh --tests

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

say "format"
cargo fmt --all -- --check

say "architecture: shared, rfb, agent-link, relay-link, directory-wire, federation-wire and nbd-wire must not depend on tokio, web-sys or axum"
for crate in shared rfb agent-link relay-link directory-wire federation-wire nbd-wire; do
  for forbidden in tokio web-sys axum mio; do
    if cargo tree -p "$crate" -e normal --target all --prefix none | awk '{print $1}' | grep -qx "$forbidden"; then
      echo "$crate depends on $forbidden" >&2
      exit 1
    fi
  done
done

say "lints"
cargo clippy --workspace --exclude web-console --all-targets -- -D warnings
cargo clippy -p web-console -p shared --target wasm32-unknown-unknown --all-targets -- -D warnings

say "web console build (release, as served: the tests load what users get)"
trunk build --offline --release

say "test guest for the QEMU tests, and the agent (static, musl) it runs"
scripts/guest-image.sh
scripts/guest-agent.sh

say "native tests (unit, property, integration, end-to-end in headless Chromium)"
# The Kerberos tests run the controller's Kerberos helper, a program of its own.
cargo build -p lantern-gss --bins
cargo test --workspace --exclude web-console

say "known-answer tests and applet tests in headless Chromium (Wasm)"
export CHROMEDRIVER=/usr/bin/chromedriver
(cd shared && cargo test --target wasm32-unknown-unknown --test known_answers)
(cd web-console && cargo test --target wasm32-unknown-unknown)

say "fuzz targets (short run)"
scripts/fuzz.sh 10
