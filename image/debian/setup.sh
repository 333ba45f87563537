#!/bin/sh
# mmdebstrap --setup-hook: runs before any package is installed; $1 is the new root.
# A small initramfs: the kernel's postinst builds it with only the modules needed to find
# and mount the root filesystem (a squashfs on virtio-blk, or on the Raspberry Pi's SD
# card), not every storage driver.
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
case "$(dpkg --print-architecture)" in
arm64)
    # The Pi's SD card is on sdhost (module bcm2835); mmc_block is built in. Not sdhci-iproc:
    # it drives the Pi 3's Wi-Fi (SDIO), and under QEMU it would claim the card before the
    # pin mux hands it to sdhost. It loads later, from the root filesystem.
    manual_add_modules bcm2835 squashfs
    ;;
*)
    manual_add_modules virtio_pci virtio_blk squashfs
    ;;
esac
HOOK
chmod 0755 "$root/etc/initramfs-tools/hooks/deskphone"
