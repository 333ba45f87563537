#!/bin/sh
# mmdebstrap --setup-hook: runs before any package is installed; $1 is the new root.
# A small initramfs: the kernel's postinst builds it with only the modules needed to find
# and mount the root filesystem (a squashfs on virtio-blk), not every storage driver.
set -eu
root=$1
mkdir -p "$root/etc/initramfs-tools/conf.d" "$root/etc/initramfs-tools/hooks"
cat >"$root/etc/initramfs-tools/conf.d/deskphone.conf" <<'CONF'
MODULES=list
COMPRESS=zstd
CONF
cat >"$root/etc/initramfs-tools/hooks/deskphone" <<'HOOK'
#!/bin/sh
[ "${1:-}" = prereqs ] && exit 0
. /usr/share/initramfs-tools/hook-functions
manual_add_modules virtio_pci virtio_blk squashfs
HOOK
chmod 0755 "$root/etc/initramfs-tools/hooks/deskphone"
