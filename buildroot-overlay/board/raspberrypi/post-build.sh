#!/bin/sh
# Buildroot post-build script of the Raspberry Pi phones: firmware version,
# RAUC compatible and keyring in the root filesystem (before it is packed),
# and the LCD controller's set-up for the panel-mipi-dbi-spi driver.
set -eu

# shellcheck disable=SC1091 # a library of ours, checked on its own
. "$BR2_EXTERNAL_DESKPHONE_PATH/board/common/deskphone.sh"

dp_post_build

# The driver runs the commands of /lib/firmware/<first compatible>.bin after
# each reset of the LCD (deskphone-lcd overlay). systemd makes the tree
# merged-usr, so /lib/firmware is this directory.
LCD_FIRMWARE="$BR2_EXTERNAL_DESKPHONE_PATH/../drivers/overlays/firmware/deskphone,ili9341.bin"
[ -f "$LCD_FIRMWARE" ] || dp_die "$LCD_FIRMWARE missing"
install -D -m 0644 "$LCD_FIRMWARE" "$TARGET_DIR/usr/lib/firmware/deskphone,ili9341.bin"
