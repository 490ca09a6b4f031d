#!/usr/bin/env bash
# Builds the small Linux guest the QEMU tests boot: Debian's cloud kernel and a busybox
# initramfs whose init prints a banner and runs a shell on the VGA console (tty0), where the
# keyboard is, and one on the serial port (ttyS0), with Debian's QEMU guest agent (qemu-ga) on its virtio-serial port. The kernel
# command line's `lantern.agent=N` stops the agent N seconds after boot (a guest that stops
# servicing the recovery timer); `lantern.agent=off` never starts it. With
# `lantern.enroll=<controller URL>,<token>,<pin>` and a /sbin/lantern-agent (the overlay that
# scripts/guest-agent.sh builds, appended to the initrd), the guest brings up its network (QEMU's
# user networking: 10.0.2.15, the host at 10.0.2.2), enrols and runs the agent.
# Two images, each skipped when present and current:
# - target/guest/{vmlinuz,initrd.gz}: Debian's cloud kernel (small, quick to boot), for most tests;
# - target/guest-usb/{vmlinuz,initrd.gz}: Debian's generic kernel, the same init, with USB
#   (xHCI) and USB mass storage besides, for the virtual USB disk's tests (the cloud kernel has
#   no USB at all).
# Usage: scripts/guest-image.sh
set -euo pipefail
cd "$(dirname "$0")/.."
version=18  # bump when the images change
current() { [[ -s "$1/vmlinuz" && -s "$1/initrd.gz" && "$(cat "$1/version" 2>/dev/null)" == "$version" ]]; }
if current target/guest && current target/guest-usb; then
  exit 0
fi
if [[ ! -x /bin/busybox ]] || ! command -v cpio >/dev/null || ! command -v loadkeys >/dev/null \
  || [[ ! -d /usr/share/keymaps/i386 ]]; then
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq busybox-static cpio kbd console-data >/dev/null
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# virtio-serial for the guest agent's port, the ACPI power button, virtio-net, and the IDE CD-ROM
# with its ISO 9660 file system (the controller's virtual CD): modules in load order.
modules="virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci virtio_console evdev button failover net_failover virtio_net scsi_common scsi_mod libata ata_piix cdrom sr_mod isofs"
# The xHCI controller, USB mass storage and SCSI disks (the controller's virtual USB disk), and
# the PS/2 mouse (the relative mouse's test; the cloud kernel has no driver for it).
usb_modules="usb-common usbcore xhci-hcd xhci-pci usb-storage crc64 crc64-rocksoft crct10dif_common crc-t10dif t10-pi sd_mod psmouse"

# The newest kernel image of a flavour (cloud-amd64 or amd64) the package lists offer.
newest_kernel() {
  apt-cache search --names-only "^linux-image-[0-9.]+-[0-9]+-$1\$" | awk '{print $1}' | sort -V | tail -n 1
}

# Builds the image of kernel flavour $1 with modules $2 in folder $3.
build() {
  local flavour="$1" wanted="$2" out="$3" package
  package=$(newest_kernel "$flavour")
  [[ -n "$package" ]] || { apt-get update -qq; package=$(newest_kernel "$flavour"); }
  rm -rf "$work/kernel" "$work/root" "$work/qga" "$work"/*.deb
  (cd "$work" && apt-get download -q "$package" 2>/dev/null)
  dpkg-deb -x "$work"/linux-image-*.deb "$work/kernel"
  mkdir -p "$out"
  cp "$work"/kernel/boot/vmlinuz-* "$out/vmlinuz"
  root="$work/root"
  mkdir -p "$root"/{bin,dev,proc,sys,tmp,lib/modules,sbin}
  cp /bin/busybox "$root/bin/busybox"
  for module in $wanted; do
    find "$work/kernel/lib/modules" -name "$module.ko" -exec cp {} "$root/lib/modules/" \;
    [[ -s "$root/lib/modules/$module.ko" ]] || { echo "kernel module $module.ko not found in $package" >&2; exit 1; }
  done
  echo "$wanted" > "$root/lib/modules/order"
  guest_agent
  console_keymaps
  write_init
  (cd "$root" && find . | cpio -o -H newc --quiet | gzip -9) > "$out/initrd.gz"
  echo "$version" > "$out/version"
  echo "guest image: $out/vmlinuz ($package), $out/initrd.gz"
}

# The guest agent, with the shared libraries it needs (the host's, from the same Debian).
guest_agent() {
  (cd "$work" && apt-get download -q qemu-guest-agent 2>/dev/null)
  dpkg-deb -x "$work"/qemu-guest-agent_*.deb "$work/qga"
  cp "$work/qga/usr/sbin/qemu-ga" "$root/sbin/qemu-ga"
  if ldd "$root/sbin/qemu-ga" | grep -q "not found"; then
    echo "qemu-ga needs libraries this machine lacks:" >&2
    ldd "$root/sbin/qemu-ga" | grep "not found" >&2
    exit 1
  fi
  for lib in $(ldd "$root/sbin/qemu-ga" | grep -o '/[^ ]*'); do
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
  done
}

# The keyboard tests read the guest's key events (`/k/keys`), and switch its console to other
# layouts with busybox's loadkmap, which takes binary keymaps: kbd's loadkeys makes them (Unicode) from console-data's keymaps, an
# independent source from the X keyboard data the controller's tables come from.
# console-data's German keymap still has `currency` on AltGr+E, the euro sign only in Latin-9
# (in Unicode it is U+00A4): the guest's says euro there, as German keyboards are labelled.
console_keymaps() {
  mkdir -p "$root/k"
  printf 'include "/usr/share/keymaps/i386/qwertz/de-latin1-nodeadkeys.kmap.gz"\naltgr keycode 18 = euro\n' \
    > "$work/de.kmap"
  loadkeys -q -u -b "$work/de.kmap" > "$root/k/de"
  loadkeys -q -u -b /usr/share/keymaps/i386/azerty/fr-latin9.kmap.gz > "$root/k/fr"
  loadkeys -q -u -b /usr/share/keymaps/i386/qwerty/us.kmap.gz > "$root/k/us"
  # A showkey of our own (busybox has none): the events of the input device whose name has
  # `$1` in it (default: the keyboard) on the serial port, `key <Linux key code> <1 down,
  # 0 up, 2 repeat>` and `rel <0 x, 1 y> <signed motion>`.
  cat > "$root/k/keys" <<'KEYS'
for d in /sys/class/input/event*; do
  grep -qi "${1:-keyboard}" "$d/device/name" && dev="/dev/input/${d##*/}"
done
exec 3<"$dev"
echo "keys-ready" >/dev/ttyS0
while true; do
  set -- $(dd bs=24 count=1 <&3 2>/dev/null | od -An -v -tu2)
  value=${11}; [ "${12}" = 65535 ] && value=$(( ${11} - 65536 ))
  [ "$9" = 1 ] && echo "key ${10} $value" >/dev/ttyS0
  [ "$9" = 2 ] && echo "rel ${10} $value" >/dev/ttyS0
done
KEYS
}

write_init() {
cat > "$root/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for module in $(cat /lib/modules/order); do
  insmod /lib/modules/$module.ko 2>/dev/null
done
# The ACPI power button (a graceful shutdown from the controller) powers the guest off.
mkdir -p /etc/acpi
printf '#!/bin/busybox sh\nexec /bin/busybox poweroff -f\n' > /etc/acpi/power-button
chmod +x /etc/acpi/power-button
echo "PWRF power-button" > /etc/acpid.conf  # relative to acpid's -c folder
acpid -c /etc/acpi -a /etc/acpid.conf -p /tmp/acpid.pid -l /tmp/acpid.log
agent=forever
for word in $(cat /proc/cmdline); do
  case "$word" in lantern.agent=*) agent="${word#lantern.agent=}" ;; esac
done
port=""
for dir in /sys/class/virtio-ports/*; do
  [ "$(cat "$dir/name" 2>/dev/null)" = "org.qemu.guest_agent.0" ] && port="/dev/${dir##*/}"
done
if [ -n "$port" ] && [ "$agent" != "off" ]; then
  /sbin/qemu-ga -m virtio-serial -p "$port" -t /tmp -f /tmp/qemu-ga.pid &
  agent_pid=$!
  echo "LANTERN-AGENT-STARTED" > /dev/ttyS0
  if [ "$agent" != "forever" ]; then
    (sleep "$agent"; kill "$agent_pid"; echo "LANTERN-AGENT-STOPPED" > /dev/ttyS0) &
  fi
fi
# An agent of Lantern's that dials out through QEMU's user networking, when asked to.
enroll=""
for word in $(cat /proc/cmdline); do
  case "$word" in lantern.enroll=*) enroll="${word#lantern.enroll=}" ;; esac
done
if [ -n "$enroll" ] && [ -x /sbin/lantern-agent ]; then
  ip link set lo up
  ip link set eth0 up
  ip addr add 10.0.2.15/24 dev eth0
  ip route add default via 10.0.2.2
  url="${enroll%%,*}"; rest="${enroll#*,}"; token="${rest%%,*}"; pin="${rest#*,}"
  mkdir -p /var/lib/lantern-agent
  printf 'run_as = "root"\nconsole_shell = "/bin/sh"\n' > /etc/lantern-agent.toml
  state=/var/lib/lantern-agent/state.json
  (/sbin/lantern-agent enroll --controller "$url" --token "$token" --pin "$pin" --state $state \
    && exec /sbin/lantern-agent run --config /etc/lantern-agent.toml --state $state) >/tmp/lantern-agent.log 2>&1 &
  echo "LANTERN-AGENT-DIALLING" > /dev/ttyS0
fi
# A shell on the serial port too (COM1: the controller's serial console).
(while true; do setsid sh -c 'exec sh -i </dev/ttyS0 >/dev/ttyS0 2>&1'; done) &
echo "LANTERN-GUEST-READY" > /dev/ttyS0
clear
printf "\033[?25l"
echo "Lantern test guest"
while true; do setsid cttyhack sh; done
INIT
chmod +x "$root/init"
}

current target/guest || build cloud-amd64 "$modules" target/guest
current target/guest-usb || build amd64 "$modules $usb_modules" target/guest-usb
