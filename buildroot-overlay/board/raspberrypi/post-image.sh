#!/bin/sh
# Buildroot post-image script of the Raspberry Pi phones. From the kernel,
# device trees, firmware and squashfs root filesystem in $BINARIES_DIR it makes:
#
#   rootfs.verity   the squashfs with its dm-verity hash tree appended
#   sdcard.img      the whole card (genimage.cfg): autoboot, two boot
#                   partitions, two root filesystems, data
#   <version>.bin   the signed RAUC update bundle (boot.vfat + rootfs.img),
#                   under the name the phones fetch from the TFTP server
#
# The dm-verity root hash goes on the kernel command line (cmdline.txt), so
# the boot partition and the root filesystem of a slot always travel together.
set -eu

# shellcheck disable=SC1091 # a library of ours, checked on its own
. "$BR2_EXTERNAL_DESKPHONE_PATH/board/common/deskphone.sh"

BOARD_DIR="$BR2_EXTERNAL_DESKPHONE_PATH/board/raspberrypi"
# The device-tree overlays live with the rest of the phone's hardware support
# in the Cargo workspace around this tree (drivers/overlays, whose tests
# compile them), as the deskphone package's sources do.
OVERLAY_DIR="$BR2_EXTERNAL_DESKPHONE_PATH/../drivers/overlays/dts"
BACKEND="$BOARD_DIR/rootfs-overlay/usr/libexec/deskphone/rauc-tryboot"
STAGE="$BUILD_DIR/deskphone-image"
# Must match genimage.cfg and the partitions of the board's system.conf.
ROOTFS_MAX=$((384 * 1024 * 1024))
ROOTDEV_A=/dev/mmcblk0p5
ROOTDEV_B=/dev/mmcblk0p6

rm -rf "$STAGE"
mkdir -p "$STAGE/root/autoboot" "$STAGE/root/boot-a" "$STAGE/root/boot-b" "$STAGE/bundle"

# 1. dm-verity: the hash tree right after the data, in the same partition.
squashfs="$BINARIES_DIR/rootfs.squashfs"
verity="$BINARIES_DIR/rootfs.verity"
[ -f "$squashfs" ] || dp_die "$squashfs missing (BR2_TARGET_ROOTFS_SQUASHFS)"
data_size=$(stat -c %s "$squashfs")
[ $((data_size % 4096)) -eq 0 ] ||
	dp_die "the squashfs is not a multiple of 4 KiB (BR2_TARGET_ROOTFS_SQUASHFS_PAD)"
cp "$squashfs" "$verity"
veritysetup format --no-superblock --hash=sha256 \
	--data-block-size=4096 --hash-block-size=4096 \
	--data-blocks=$((data_size / 4096)) --hash-offset="$data_size" \
	"$verity" "$verity" >"$STAGE/verity.txt"
root_hash=$(sed -n 's/^Root hash:[[:space:]]*//p' "$STAGE/verity.txt")
salt=$(sed -n 's/^Salt:[[:space:]]*//p' "$STAGE/verity.txt")
if [ -z "$root_hash" ] || [ -z "$salt" ]; then
	dp_die "veritysetup gave no root hash"
fi
[ "$(stat -c %s "$verity")" -le "$ROOTFS_MAX" ] ||
	dp_die "the root filesystem does not fit its 384 MiB partition"

# 2. The phone's device-tree overlays.
# host-dtc (BR2_PACKAGE_HOST_DTC), else the kernel's own.
dtc=$(command -v dtc || true)
if [ -z "$dtc" ]; then
	for kernel_dtc in "$BUILD_DIR"/linux-*/scripts/dtc/dtc; do
		[ -x "$kernel_dtc" ] && dtc=$kernel_dtc
	done
fi
[ -n "$dtc" ] || dp_die "no dtc to compile the device-tree overlays"
mkdir -p "$STAGE/overlays"
for dts in "$OVERLAY_DIR"/*-overlay.dts; do
	[ -f "$dts" ] || dp_die "no device-tree overlays in $OVERLAY_DIR"
	name=$(basename "$dts" -overlay.dts)
	"$dtc" -@ -q -I dts -O dtb -o "$STAGE/overlays/$name.dtbo" "$dts"
done

# 3. The boot partitions: firmware, kernel, device trees, overlays, config.txt
# and the command line. cmdline.in keeps @ROOTDEV@ and @SLOT@ for the RAUC
# post-install handler, which writes cmdline.txt for the slot an update lands in.
# rpi-firmware installs config.txt and the cmdline.txt template from
# BR2_PACKAGE_RPI_FIRMWARE_CONFIG_FILE and _CMDLINE_FILE; the board's are the
# fallback.
template="$BINARIES_DIR/rpi-firmware/cmdline.txt"
grep -qs '@VERITY_ROOT_HASH@' "$template" || template="$BOARD_DIR/cmdline.txt"
config="$BINARIES_DIR/rpi-firmware/config.txt"
[ -f "$config" ] || config="$BOARD_DIR/config.txt"
kernel=$(sed -n 's/^kernel=//p' "$config" | head -n 1)
sed -e "s|@VERITY_SECTORS@|$((data_size / 512))|g" \
	-e "s|@VERITY_BLOCKS@|$((data_size / 4096))|g" \
	-e "s|@VERITY_HASH_START@|$((data_size / 4096))|g" \
	-e "s|@VERITY_ROOT_HASH@|$root_hash|g" \
	-e "s|@VERITY_SALT@|$salt|g" \
	"$template" >"$STAGE/cmdline.in"
for slot in A B; do
	if [ "$slot" = A ]; then rootdev=$ROOTDEV_A; else rootdev=$ROOTDEV_B; fi
	dir="$STAGE/root/boot-$(echo "$slot" | tr AB ab)"
	cp -R "$BINARIES_DIR/rpi-firmware/." "$dir/"
	rm -f "$dir/cmdline.txt" "$dir/bootcode.bin"
	cp "$config" "$dir/config.txt"
	cp "$BINARIES_DIR/${kernel:-Image}" "$dir/"
	cp "$BINARIES_DIR"/*.dtb "$dir/"
	mkdir -p "$dir/overlays"
	cp "$STAGE"/overlays/*.dtbo "$dir/overlays/"
	cp "$STAGE/cmdline.in" "$dir/cmdline.in"
	sed -e "s|@ROOTDEV@|$rootdev|g" -e "s|@SLOT@|$slot|g" \
		"$STAGE/cmdline.in" >"$dir/cmdline.txt"
done

# 4. The autoboot partition: autoboot.txt as the tryboot backend writes it
# (slot A first, both good), and what the Pi 3's boot ROM needs there.
TRYBOOT_BOOT_DIR="$STAGE/root/autoboot" TRYBOOT_DT_DIR="$STAGE/none" \
	TRYBOOT_CMDLINE=/dev/null TRYBOOT_REBOOT_PARAM="$STAGE/reboot-param" \
	"$BACKEND" set-primary A
if [ -f "$BINARIES_DIR/rpi-firmware/bootcode.bin" ]; then
	cp "$BINARIES_DIR/rpi-firmware/bootcode.bin" "$STAGE/root/autoboot/"
	echo "# deskphone: the boot files are in the partition autoboot.txt names" \
		>"$STAGE/root/autoboot/config.txt"
fi

# 5. The card.
rm -rf "$BUILD_DIR/genimage.tmp"
genimage \
	--rootpath "$STAGE/root" \
	--tmppath "$BUILD_DIR/genimage.tmp" \
	--inputpath "$BINARIES_DIR" \
	--outputpath "$BINARIES_DIR" \
	--config "$BOARD_DIR/genimage.cfg"

# 6. The update bundle: this build's boot partition and root filesystem.
ln -f "$BINARIES_DIR/boot-a.vfat" "$STAGE/bundle/boot.vfat"
ln -f "$verity" "$STAGE/bundle/rootfs.img"
version=$(cat "$TARGET_DIR/etc/deskphone/image_version")
compatible=$(dp_target_compatible)
dp_bundle "$STAGE/bundle" "$compatible" "$version" "rootfs:rootfs.img boot:boot.vfat"
