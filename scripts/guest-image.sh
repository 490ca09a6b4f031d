#!/usr/bin/env bash
# Builds the small Linux guest the graphics tests boot in QEMU: Debian's cloud kernel and a
# busybox initramfs whose init prints a banner and runs a shell on the VGA console (tty0),
# where the keyboard is. Output: target/guest/{vmlinuz,initrd.gz}; skipped when present.
# Usage: scripts/guest-image.sh [output dir]
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-target/guest}"
if [[ -s "$out/vmlinuz" && -s "$out/initrd.gz" ]]; then
  exit 0
fi
if [[ ! -x /bin/busybox ]] || ! command -v cpio >/dev/null; then
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq busybox-static cpio >/dev/null
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$out"

# The newest cloud kernel image the package lists offer (virtio, VGA console, AT keyboard).
package=$(apt-cache search --names-only '^linux-image-[0-9.]+-[0-9]+-cloud-amd64$' | awk '{print $1}' | sort -V | tail -n 1)
[[ -n "$package" ]] || { apt-get update -qq; package=$(apt-cache search --names-only '^linux-image-[0-9.]+-[0-9]+-cloud-amd64$' | awk '{print $1}' | sort -V | tail -n 1); }
(cd "$work" && apt-get download -q "$package" 2>/dev/null)
dpkg-deb -x "$work"/linux-image-*.deb "$work/kernel"
cp "$work"/kernel/boot/vmlinuz-* "$out/vmlinuz"

root="$work/root"
mkdir -p "$root"/{bin,dev,proc,sys,tmp}
cp /bin/busybox "$root/bin/busybox"
cat > "$root/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
echo "LANTERN-GUEST-READY" > /dev/ttyS0
clear
printf "\033[?25l"
echo "Lantern test guest"
while true; do setsid cttyhack sh; done
INIT
chmod +x "$root/init"
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -9) > "$out/initrd.gz"
echo "guest image: $out/vmlinuz ($package), $out/initrd.gz"
