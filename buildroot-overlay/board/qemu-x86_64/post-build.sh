#!/bin/sh
# Buildroot post-build script of the QEMU x86_64 phone: firmware version, RAUC
# compatible and keyring, and what grub.cfg expects in a slot: the kernel as
# /boot/vmlinuz and an initramfs as /boot/initrd.img. Buildroot's kernel needs
# no initramfs (the drivers for the root filesystem are built in), so that one
# is empty and the kernel mounts root= itself.
set -eu

# shellcheck disable=SC1091 # a library of ours, checked on its own
. "$BR2_EXTERNAL_DESKPHONE_PATH/board/common/deskphone.sh"

dp_post_build

install -D -m 0644 "$BINARIES_DIR/bzImage" "$TARGET_DIR/boot/vmlinuz"
: | cpio --quiet -o -H newc >"$TARGET_DIR/boot/initrd.img"
# Mount point of the ESP (fstab), where RAUC's grub backend finds grubenv.
mkdir -p "$TARGET_DIR/efi"
