#!/usr/bin/env bash
# Installs what Lantern's build and tests need and is missing; skips what is already there.
# Usage: scripts/setup.sh [--tests]   (--tests also installs what the tests drive: Chromium and
# ChromeDriver, QEMU, busybox and cpio for the test guest, TigerVNC's Xvnc with xterm,
# xdotool, xwd and xsetroot for the desktop test, and DMTF's Redfish service validator and Redfish
# client library from PyPI in target/redfish/venv, nftables and iproute2 for the agents' network
# namespace, OpenLDAP's slapd and ldap-utils and an MIT KDC for the directory tests, and
# libkrb5-dev with libclang-dev for the `kerberos` feature they build, and libnbd-bin's NBD
# clients for the virtual media tests)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

if [[ "${1:-}" == "--tests" ]]; then
  missing=()
  command -v chromium >/dev/null || missing+=(chromium)
  command -v chromedriver >/dev/null || missing+=(chromium-driver)
  command -v qemu-system-x86_64 >/dev/null || missing+=(qemu-system-x86)
  [[ -x /bin/busybox ]] || missing+=(busybox-static)
  command -v cpio >/dev/null || missing+=(cpio)
  command -v Xvnc >/dev/null || missing+=(tigervnc-standalone-server)
  command -v xterm >/dev/null || missing+=(xterm)
  command -v xdotool >/dev/null || missing+=(xdotool)
  command -v xwd >/dev/null || missing+=(x11-apps)
  command -v xsetroot >/dev/null || missing+=(x11-xserver-utils)
  command -v xclip >/dev/null || missing+=(xclip)  # the clipboard test's X client
  # The agents' test puts an agent in a network namespace whose firewall drops inbound traffic.
  command -v nft >/dev/null || missing+=(nftables)
  command -v ip >/dev/null || missing+=(iproute2)
  # The directory tests run their own OpenLDAP slapd from a temporary folder.
  command -v slapd >/dev/null || [[ -x /usr/sbin/slapd ]] || missing+=(slapd)
  command -v ldapmodify >/dev/null || missing+=(ldap-utils)
  # Kerberos: the library and headers the `kerberos` feature builds against (bindgen needs
  # libclang), and an MIT KDC the tests run from a temporary folder.
  command -v krb5-config.mit >/dev/null || missing+=(libkrb5-dev)
  compgen -G "/usr/lib/llvm-*/lib/libclang.so*" >/dev/null || missing+=(libclang-dev)  # not libclang-cpp, which other packages bring
  [[ -x /usr/sbin/krb5kdc ]] || missing+=(krb5-kdc)
  [[ -x /usr/sbin/kadmin.local ]] || missing+=(krb5-admin-server)
  command -v kinit >/dev/null || missing+=(krb5-user)
  # Virtual media: libnbd's nbdcopy and nbdinfo are the real NBD clients the NBD server's tests
  # talk to.
  command -v nbdcopy >/dev/null || missing+=(libnbd-bin)
  # ...and the test ISOs are made with xorriso.
  command -v xorriso >/dev/null || missing+=(xorriso)
  # ...and the boot-override test boots ISOs made with isolinux (and syslinux's ldlinux.c32).
  [[ -f /usr/lib/ISOLINUX/isolinux.bin ]] || missing+=(isolinux)
  [[ -f /usr/lib/syslinux/modules/bios/ldlinux.c32 ]] || missing+=(syslinux-common)
  # Keyboard layouts: the tables are checked against QEMU's keymaps (made from xkb-data) and
  # X's keysym names; the test guest loads console keymaps that kbd's loadkeys makes from
  # console-data's.
  [[ -f /usr/share/qemu/keymaps/de ]] || missing+=(qemu-system-data)
  [[ -f /usr/include/X11/keysymdef.h ]] || missing+=(x11proto-dev)
  command -v loadkeys >/dev/null || missing+=(kbd)
  [[ -d /usr/share/keymaps/i386 ]] || missing+=(console-data)
  # Syslog forwarding is tested against a real rsyslog over TCP with TLS (its OpenSSL driver).
  [[ -x /usr/sbin/rsyslogd ]] || missing+=(rsyslog)
  [[ -f /usr/lib/x86_64-linux-gnu/rsyslog/lmnsd_ossl.so ]] || missing+=(rsyslog-openssl)
  # /metrics is parsed by the Prometheus project's Python client (its text and OpenMetrics parsers).
  /usr/bin/python3 -c 'import prometheus_client' 2>/dev/null || missing+=(python3-prometheus-client)
  if (( ${#missing[@]} )); then
    say "installing ${missing[*]} (Debian packages)"
    SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
    $SUDO apt-get update -qq
    # Packages with a service (slapd, the KDC) must not start it: the tests start their own. A
    # policy-rc.d that says no is in place only while installing, and only if none was.
    policy=/usr/sbin/policy-rc.d; placed=""
    if [[ ! -e $policy ]]; then
      printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null && $SUDO chmod +x "$policy" && placed=1
    fi
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
    if [[ -n $placed ]]; then $SUDO rm -f "$policy"; fi
  fi
  # Pinned: the Redfish test asserts on what these versions report.
  venv=target/redfish/venv
  if ! "$venv/bin/python" -c 'import redfish, redfish_service_validator' 2>/dev/null; then
    say "installing redfish-service-validator and redfish (PyPI) in $venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q redfish-service-validator==3.1.8 redfish==3.4.2
  fi
fi

# wasm-opt, which trunk runs on the release build of the web console (a third smaller, 17 %
# smaller as served). Binaryen 123 from npm: Debian's binaryen 108 exports the wrong table for
# wasm-bindgen's externref table, and the console fails to start. Kept under target/tools.
binaryen=target/tools/binaryen
if [[ "$("$binaryen/node_modules/.bin/wasm-opt" --version 2>/dev/null)" != *"version_123"* ]]; then
  if ! command -v npm >/dev/null; then
    say "installing nodejs and npm (Debian packages)"
    SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq nodejs npm >/dev/null
  fi
  say "installing binaryen 123 (npm) in $binaryen"
  mkdir -p "$binaryen"
  npm install --silent --no-audit --no-fund --prefix "$binaryen" binaryen@123
fi

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

# wasm-bindgen-cli must match the wasm-bindgen library in Cargo.lock exactly.
wbg_version=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
if [[ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$wbg_version" ]]; then
  say "installing wasm-bindgen-cli $wbg_version"
  cargo install wasm-bindgen-cli --version "$wbg_version" --force
fi

if ! trunk --version 2>/dev/null | grep -q '^trunk 0\.21\.'; then
  say "installing trunk 0.21"
  cargo install trunk --version '~0.21' --locked --force
fi
