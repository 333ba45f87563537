#!/bin/sh
# Shell functions shared by the board scripts (sourced, not run). Buildroot
# runs post-build and post-image scripts with BR2_CONFIG, BASE_DIR, BUILD_DIR,
# BINARIES_DIR, TARGET_DIR, HOST_DIR and BR2_EXTERNAL_DESKPHONE_PATH in the
# environment, and $(HOST_DIR)/bin and /sbin first in PATH.

dp_die() {
	echo "deskphone: $*" >&2
	exit 1
}

# The value of a string option of .config, unquoted ("" when unset).
dp_config() {
	sed -n "s/^$1=\"\\(.*\\)\"\$/\\1/p" "$BR2_CONFIG" | sed 's/\\"/"/g; s/\\\\/\\/g'
}

# The firmware version: BR2_PACKAGE_DESKPHONE_IMAGE_VERSION, else the
# workspace version and the date of the build (SOURCE_DATE_EPOCH if set).
dp_image_version() {
	version=$(dp_config BR2_PACKAGE_DESKPHONE_IMAGE_VERSION)
	if [ -z "$version" ]; then
		ws_version=$(sed -n '/^\[workspace\.package\]/,/^\[/s/^version = "\(.*\)"/\1/p' \
			"$BR2_EXTERNAL_DESKPHONE_PATH/../Cargo.toml")
		date=$(date -u ${SOURCE_DATE_EPOCH:+-d "@$SOURCE_DATE_EPOCH"} +%Y%m%d)
		version="deskphone-${ws_version:-0}-$date"
	fi
	case "$version" in
	*[!A-Za-z0-9._-]* | "" | -* | .*)
		dp_die "firmware version '$version': use letters, digits, '.', '_' and '-' (it names <version>.bin on the TFTP server)"
		;;
	esac
	echo "$version"
}

# Sets DP_KEY, DP_CERT, DP_KEYRING: the configured release signing material,
# or a development key and certificate generated once per output directory
# (never in the source tree).
dp_signing() {
	DP_KEY=$(dp_config BR2_PACKAGE_DESKPHONE_RAUC_KEY)
	DP_CERT=$(dp_config BR2_PACKAGE_DESKPHONE_RAUC_CERT)
	DP_KEYRING=$(dp_config BR2_PACKAGE_DESKPHONE_RAUC_KEYRING)
	if [ -n "$DP_KEY" ]; then
		if [ -z "$DP_CERT" ] || [ -z "$DP_KEYRING" ]; then
			dp_die "BR2_PACKAGE_DESKPHONE_RAUC_KEY needs BR2_PACKAGE_DESKPHONE_RAUC_CERT and BR2_PACKAGE_DESKPHONE_RAUC_KEYRING"
		fi
		case "$DP_KEYRING" in
		pkcs11:*) dp_die "the keyring must be a file (it is installed on the phone)" ;;
		esac
		[ -f "$DP_KEYRING" ] || dp_die "keyring $DP_KEYRING not found"
		return 0
	fi
	dir="$BASE_DIR/deskphone-dev-keys"
	DP_KEY="$dir/dev.key.pem"
	DP_CERT="$dir/dev.cert.pem"
	DP_KEYRING="$dir/dev.cert.pem"
	if [ ! -f "$DP_KEY" ] || [ ! -f "$DP_CERT" ]; then
		echo "deskphone: no release key configured, generating a development key in $dir" >&2
		mkdir -p "$dir"
		chmod 0700 "$dir"
		rm -f "$DP_KEY" "$DP_CERT"
		openssl req -x509 -newkey rsa:3072 -nodes -days 3650 \
			-keyout "$DP_KEY.tmp" -out "$DP_CERT.tmp" \
			-subj "/O=deskphone/CN=deskphone development key (not for release)" \
			-addext basicConstraints=critical,CA:TRUE \
			-addext keyUsage=critical,digitalSignature,keyCertSign \
			2>/dev/null || dp_die "openssl could not make a development key"
		chmod 0600 "$DP_KEY.tmp"
		mv "$DP_KEY.tmp" "$DP_KEY"
		mv "$DP_CERT.tmp" "$DP_CERT"
	fi
}

# The compatible of the image: BR2_PACKAGE_DESKPHONE_RAUC_COMPATIBLE, set into
# the target's system.conf; else the one that system.conf has.
dp_compatible() {
	conf="$TARGET_DIR/etc/rauc/system.conf"
	[ -f "$conf" ] || dp_die "no $conf: the board's root filesystem overlay provides it"
	compatible=$(dp_config BR2_PACKAGE_DESKPHONE_RAUC_COMPATIBLE)
	if [ -n "$compatible" ]; then
		case "$compatible" in
		*[!A-Za-z0-9._-]*) dp_die "RAUC compatible '$compatible': use letters, digits, '.', '_' and '-'" ;;
		esac
		sed -i "s/^compatible=.*/compatible=$compatible/" "$conf"
	fi
	sed -n 's/^compatible=//p' "$conf" | head -n 1
}

# The compatible in the target's system.conf, as post-build left it.
dp_target_compatible() {
	sed -n 's/^compatible=//p' "$TARGET_DIR/etc/rauc/system.conf" | head -n 1
}

# post-build: the version, the compatible and the keyring in the target.
dp_post_build() {
	version=$(dp_image_version)
	mkdir -p "$TARGET_DIR/etc/deskphone"
	echo "$version" >"$TARGET_DIR/etc/deskphone/image_version"
	dp_compatible >/dev/null
	dp_signing
	install -D -m 0644 "$DP_KEYRING" "$TARGET_DIR/etc/rauc/keyring.pem"
	# systemd never sets the clock earlier than this file's mtime: a phone
	# without a real-time clock starts at the build date, not in 1970.
	mkdir -p "$TARGET_DIR/usr/lib"
	touch ${SOURCE_DATE_EPOCH:+-d "@$SOURCE_DATE_EPOCH"} "$TARGET_DIR/usr/lib/clock-epoch"
}

# Builds the signed update bundle from a content directory holding the
# images: $1 directory, $2 compatible, $3 version, $4 "name:file ..." images.
# Writes $BINARIES_DIR/<version>.bin, the name the phone fetches.
dp_bundle() {
	content=$1 compatible=$2 version=$3 images=$4
	{
		printf '[update]\ncompatible=%s\nversion=%s\n\n[bundle]\nformat=verity\n' \
			"$compatible" "$version"
		for image in $images; do
			printf '\n[image.%s]\nfilename=%s\n' "${image%%:*}" "${image#*:}"
		done
	} >"$content/manifest.raucm"
	dp_signing
	out="$BINARIES_DIR/$version.bin"
	rm -f "$out"
	rauc bundle --cert="$DP_CERT" --key="$DP_KEY" --keyring="$DP_KEYRING" \
		"$content" "$out" || dp_die "rauc could not make the bundle"
	echo "deskphone: update bundle $out (compatible $compatible, version $version)"
}
