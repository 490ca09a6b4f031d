#!/usr/bin/env bash
# Builds lantern-agent as a static binary (musl) and packs it as an initrd overlay for the test
# guest (scripts/guest-image.sh): appended to its initrd, the guest has /sbin/lantern-agent.
# Output: target/guest/agent.cpio.gz.
# Usage: scripts/guest-agent.sh [output dir]
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
out="${1:-target/guest}"
if ! command -v musl-gcc >/dev/null; then
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq musl-tools >/dev/null
fi
if ! rustup target list --installed | grep -qx x86_64-unknown-linux-musl; then
  rustup target add x86_64-unknown-linux-musl
fi
cargo build --release -p lantern-agent --no-default-features --target x86_64-unknown-linux-musl
binary=target/x86_64-unknown-linux-musl/release/lantern-agent
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/sbin" "$out"
cp "$binary" "$work/sbin/lantern-agent"
strip "$work/sbin/lantern-agent" 2>/dev/null || true
(cd "$work" && find . | cpio -o -H newc --quiet | gzip -9) > "$out/agent.cpio.gz.tmp"
mv "$out/agent.cpio.gz.tmp" "$out/agent.cpio.gz"
echo "guest agent overlay: $out/agent.cpio.gz"
