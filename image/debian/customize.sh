#!/bin/sh
# mmdebstrap --customize-hook: runs after every package is installed; $1 is the new root.
# Trims what a read-only phone image never uses. The result is cached as the base tarball
# (target/image/cache), so everything project-specific is added later, outside this hook.
set -eu
root=$1
kver=$(ls "$root/usr/lib/modules")
arch=$(chroot "$root" dpkg --print-architecture)

# usrmerge (and with it perl) only converts a system to merged /usr, which this one already is;
# usr-is-merged keeps init-system-helpers' dependency satisfied.
chroot "$root" apt-get purge -y -q --autoremove usrmerge libfile-find-rule-perl perl perl-modules-5.36 libperl5.36

# Kernel modules for hardware a phone (or its QEMU model) does not have.
cd "$root/usr/lib/modules/$kver/kernel"
if [ "$arch" = arm64 ]; then
    # A Raspberry Pi's keyboard and Ethernet are on USB (dwc2): keep the USB host, HID, and
    # the network adapters of the Pi 3 (smsc95xx), the Pi 3B+ (lan78xx) and QEMU's raspi3b
    # (usb-net: cdc_ether, rndis_host on usbnet). Then the other boards' drivers.
    rm -rf drivers/usb/serial drivers/usb/misc drivers/usb/storage drivers/usb/usbip \
        drivers/usb/chipidea drivers/usb/dwc3 drivers/usb/musb drivers/usb/isp1760 \
        drivers/usb/cdns3 drivers/usb/mtu3 drivers/usb/typec drivers/usb/image \
        drivers/usb/class drivers/usb/gadget/function drivers/usb/gadget/legacy \
        drivers/gpu/drm/msm drivers/gpu/drm/tegra drivers/gpu/drm/rockchip drivers/gpu/drm/sun4i \
        drivers/gpu/drm/meson drivers/gpu/drm/etnaviv drivers/gpu/drm/panfrost drivers/gpu/drm/lima \
        drivers/gpu/drm/imx drivers/gpu/drm/hisilicon drivers/gpu/drm/mediatek drivers/gpu/drm/exynos
    find drivers/net/usb -name '*.ko*' ! -name 'usbnet.ko*' ! -name 'cdc_ether.ko*' \
        ! -name 'rndis_host.ko*' ! -name 'smsc95xx.ko*' ! -name 'lan78xx.ko*' -delete
    # Device trees: the Pi's only.
    find "$root/usr/lib/linux-image-$kver" -mindepth 1 -maxdepth 1 ! -name broadcom \
        -exec rm -rf {} +
else
    rm -rf drivers/usb drivers/net/usb
fi
rm -rf drivers/net/wireless drivers/net/ethernet drivers/net/wwan \
    drivers/net/can drivers/net/wan drivers/net/hamradio drivers/net/ieee802154 \
    drivers/infiniband drivers/media drivers/staging drivers/comedi drivers/isdn drivers/iio \
    drivers/target drivers/mtd drivers/bluetooth drivers/scsi drivers/ata \
    drivers/platform drivers/thunderbolt drivers/nvdimm drivers/nvme drivers/firewire \
    drivers/gpu/drm/amd drivers/gpu/drm/nouveau drivers/gpu/drm/i915 drivers/gpu/drm/radeon \
    drivers/gpu/drm/gma500 drivers/gpu/drm/vmwgfx drivers/gpu/drm/mgag200 drivers/gpu/drm/ast \
    net/bluetooth net/wireless net/mac80211 net/ceph net/sunrpc net/rxrpc net/9p \
    fs/xfs fs/btrfs fs/ocfs2 fs/gfs2 fs/nfs fs/nfsd fs/ceph fs/smb fs/cifs fs/f2fs fs/jfs \
    fs/reiserfs fs/ntfs3 fs/ubifs fs/nilfs2 fs/afs fs/coda fs/dlm fs/orangefs fs/lockd \
    sound/soc sound/firewire sound/usb sound/isa sound/pcmcia sound/sof
cd /
chroot "$root" depmod "$kver"

# Stable names for GRUB (and for xtask, which copies the Pi's into its boot partitions): each
# slot boots its own kernel and initramfs.
ln -sf "vmlinuz-$kver" "$root/boot/vmlinuz"
ln -sf "initrd.img-$kver" "$root/boot/initrd.img"
rm -f "$root/boot/System.map-$kver" "$root/vmlinuz.old" "$root/initrd.img.old"

# Jobs that maintain a writable Debian system (apt, dpkg backups, e2scrub of LVM snapshots,
# fstrim): the root is read-only and the data partition a plain ext4.
rm -f "$root/etc/systemd/system/timers.target.wants/apt-daily.timer" \
    "$root/etc/systemd/system/timers.target.wants/apt-daily-upgrade.timer" \
    "$root/etc/systemd/system/timers.target.wants/dpkg-db-backup.timer" \
    "$root/etc/systemd/system/timers.target.wants/e2scrub_all.timer" \
    "$root/etc/systemd/system/timers.target.wants/fstrim.timer" \
    "$root/etc/systemd/system/multi-user.target.wants/e2scrub_reap.service"

# Documentation and translations (dpkg's path-exclude keeps them out of most packages).
rm -rf "$root/usr/share/man" "$root/usr/share/info" "$root/usr/share/locale" \
    "$root/usr/share/doc-base" "$root/usr/share/lintian" "$root/usr/share/bug" \
    "$root/var/cache/debconf/"*-old "$root/var/lib/dpkg/"*-old
find "$root/usr/share/doc" -mindepth 1 ! -name copyright ! -type d -delete

# Host files mmdebstrap copied in; the image gets its own.
rm -f "$root/etc/resolv.conf" "$root/etc/hostname"
: >"$root/etc/machine-id"

# GRUB for the ESP, built from this release's own grub-efi-amd64-bin (xtask copies it out);
# the modules themselves are not needed on the phone.
if [ -d "$root/usr/lib/grub/x86_64-efi" ]; then
    mkdir -p "$root/usr/lib/deskphone/grub"
    chroot "$root" grub-mkimage -O x86_64-efi -p /EFI/BOOT -o /usr/lib/deskphone/grub/BOOTX64.EFI \
        part_gpt fat squash4 ext2 normal linux configfile loadenv search test echo regexp \
        serial terminal efi_gop efi_uga all_video gzio sleep reboot halt
    rm -rf "$root/usr/lib/grub/x86_64-efi"
fi
