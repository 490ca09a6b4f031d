#!/usr/bin/env bash
# Runs every fuzz target for a while (default 10 s each). cargo-fuzz needs nightly flags;
# RUSTC_BOOTSTRAP lets the stable toolchain accept them.
# Usage: scripts/fuzz.sh [seconds per target]
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
export PATH="$HOME/.cargo/bin:$PATH" RUSTC_BOOTSTRAP=1
seconds="${1:-10}"
if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked || cargo install cargo-fuzz
fi
log=$(mktemp)
trap 'rm -f "$log"' EXIT
for target in $(cargo fuzz list); do
  echo "fuzzing $target for ${seconds}s"
  # cargo fuzz exits non-zero when a target crashes: show why and fail.
  # Seeds (valid sessions, committed under fuzz/seeds/) give a target that starts from arbitrary
  # bytes a way past its first checks; what it learns goes to fuzz/corpus/.
  seeds=()
  [[ -d "seeds/$target" ]] && seeds=("corpus/$target" "seeds/$target") && mkdir -p "corpus/$target"
  if ! cargo fuzz run -O "$target" "${seeds[@]}" -- -max_total_time="$seconds" >"$log" 2>&1; then
    tail -n 60 "$log"
    exit 1
  fi
  grep -E '^Done' "$log"
done
