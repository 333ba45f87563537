#!/bin/sh
# Buildroot post-build script of the Raspberry Pi phones: firmware version,
# RAUC compatible and keyring in the root filesystem (before it is packed).
set -eu

# shellcheck disable=SC1091 # a library of ours, checked on its own
. "$BR2_EXTERNAL_DESKPHONE_PATH/board/common/deskphone.sh"

dp_post_build
