#!/bin/sh
# Buildroot post-image script of the QEMU x86_64 phone. Makes disk.img
# (genimage.cfg) from GRUB, grub.cfg and the squashfs root filesystem, and the
# signed RAUC update bundle <version>.bin from the root filesystem.
set -eu

# shellcheck disable=SC1091 # a library of ours, checked on its own
. "$BR2_EXTERNAL_DESKPHONE_PATH/board/common/deskphone.sh"

BOARD_DIR="$BR2_EXTERNAL_DESKPHONE_PATH/board/qemu-x86_64"
STAGE="$BUILD_DIR/deskphone-image"
ROOTFS_MAX=$((512 * 1024 * 1024))

rm -rf "$STAGE"
mkdir -p "$STAGE/root/esp/EFI/BOOT" "$STAGE/bundle"

squashfs="$BINARIES_DIR/rootfs.squashfs"
[ -f "$squashfs" ] || dp_die "$squashfs missing (BR2_TARGET_ROOTFS_SQUASHFS)"
[ "$(stat -c %s "$squashfs")" -le "$ROOTFS_MAX" ] ||
	dp_die "the root filesystem does not fit its 512 MiB partition"

# The ESP: GRUB as Buildroot built it, the board's grub.cfg, and grubenv with
# slot A first and good, slot B not bootable yet. A GRUB environment block is
# 1024 bytes: a header, the variables, '#' up to the end.
cp "$BINARIES_DIR/efi-part/EFI/BOOT/bootx64.efi" "$STAGE/root/esp/EFI/BOOT/"
cp "$BOARD_DIR/grub.cfg" "$STAGE/root/esp/EFI/BOOT/grub.cfg"
printf '# GRUB Environment Block\nORDER=A B\nA_OK=1\nA_TRY=0\nB_OK=0\nB_TRY=0\n' \
	>"$STAGE/grubenv"
head -c 1024 /dev/zero | tr '\0' '#' >>"$STAGE/grubenv"
head -c 1024 "$STAGE/grubenv" >"$STAGE/root/esp/EFI/BOOT/grubenv"

rm -rf "$BUILD_DIR/genimage.tmp"
genimage \
	--rootpath "$STAGE/root" \
	--tmppath "$BUILD_DIR/genimage.tmp" \
	--inputpath "$BINARIES_DIR" \
	--outputpath "$BINARIES_DIR" \
	--config "$BOARD_DIR/genimage.cfg"

ln -f "$squashfs" "$STAGE/bundle/rootfs.img"
version=$(cat "$TARGET_DIR/etc/deskphone/image_version")
compatible=$(dp_target_compatible)
dp_bundle "$STAGE/bundle" "$compatible" "$version" "rootfs:rootfs.img"
