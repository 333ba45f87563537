################################################################################
#
# deskphone
#
################################################################################

# The Cargo workspace this BR2_EXTERNAL tree lives in, built as it is on disk.
DESKPHONE_SITE = $(realpath $(BR2_EXTERNAL_DESKPHONE_PATH)/..)
DESKPHONE_SITE_METHOD = local
DESKPHONE_LICENSE = Apache-2.0 or MIT
DESKPHONE_LICENSE_FILES = LICENSE-APACHE LICENSE-MIT

# What goes into the image. Daemons are name:uid[:groups]; each runs as its
# own system user deskphone-<name> with that fixed id (their files on the data
# partition keep their owner across updates), in the group deskphone that may
# use the services' sockets, and in the comma-separated groups given (mediad:
# audio, for /dev/snd; ui: video and input, for /dev/fb* and /dev/input). Tools
# are plain commands. Adding a service or a tool is one word on one of these
# lines.
DESKPHONE_DAEMONS = provd:901 sipd:903 mediad:904:audio ui:905:video,input netd:906 consoled:907
DESKPHONE_TOOLS = phonectl
DESKPHONE_GID = 900
# Users of the overlay's helper units, which run scripts rather than workspace
# binaries (name:uid, user deskphone-<name>): the boot deadline
# (deskphone-boot-check.service).
DESKPHONE_HELPERS = bootcheck:902

DESKPHONE_DAEMON_NAMES = $(foreach d,$(DESKPHONE_DAEMONS),$(firstword $(subst :, ,$(d))))
DESKPHONE_BINS = $(DESKPHONE_DAEMON_NAMES) $(DESKPHONE_TOOLS)

# The workspace travels to the build directory without its build output, the
# fuzzing tree (not a member) and this tree (keep O= outside the workspace, or
# name it output/).
DESKPHONE_OVERRIDE_SRCDIR_RSYNC_EXCLUSIONS = \
	--exclude=/target \
	--exclude=/output \
	--exclude=/fuzz \
	--exclude=/buildroot-overlay

# mediad drives the sound card through alsa-lib (the alsa-sys crate finds it
# with pkg-config).
DESKPHONE_DEPENDENCIES = host-pkgconf alsa-lib

DESKPHONE_CARGO_BUILD_OPTS = \
	$(foreach bin,$(DESKPHONE_BINS),--bin $(bin)) \
	--features deskphone-mediad/alsa
DESKPHONE_CARGO_PROFILE = $(if $(BR2_ENABLE_DEBUG),debug,release)

# Buildroot vendors crates in the download step of a package, which a local
# package does not have. The same layout (VENDOR/ and .cargo/config.toml) comes
# from a tarball named after Cargo.lock in $(DESKPHONE_DL_DIR): made by "make
# deskphone-vendor" (or "make source"), or at configure time when it is
# missing and crates.io can be reached.
DESKPHONE_VENDOR = $(BR2_EXTERNAL_DESKPHONE_PATH)/package/deskphone/cargo-vendor
DESKPHONE_VENDOR_ENV = \
	$(HOST_MAKE_ENV) \
	CARGO=$(HOST_DIR)/bin/cargo \
	CARGO_HOME=$(BR_CARGO_HOME)

define DESKPHONE_UNPACK_VENDORED_CRATES
	$(DESKPHONE_VENDOR_ENV) $(DESKPHONE_VENDOR) unpack $(@D) $(DESKPHONE_DL_DIR)
endef
DESKPHONE_PRE_CONFIGURE_HOOKS += DESKPHONE_UNPACK_VENDORED_CRATES

# The workspace's root manifest is virtual, so the binaries are installed from
# the build output rather than with "cargo install --path".
define DESKPHONE_INSTALL_TARGET_CMDS
	$(foreach bin,$(DESKPHONE_BINS),\
		$(INSTALL) -D -m 0755 \
			$(@D)/target/$(RUSTC_TARGET_NAME)/$(DESKPHONE_CARGO_PROFILE)/$(bin) \
			$(TARGET_DIR)/usr/bin/$(bin)$(sep))
endef

define DESKPHONE_USERS
	- -1 deskphone $(DESKPHONE_GID) - - - - deskphone service clients
	$(foreach d,$(DESKPHONE_DAEMONS),$(call DESKPHONE_DAEMON_USER,$(subst :, ,$(d)))$(sep))
	$(foreach h,$(DESKPHONE_HELPERS),$(call DESKPHONE_HELPER_USER,$(subst :, ,$(h)))$(sep))
endef

# $(1): name uid [groups]
DESKPHONE_DAEMON_USER = \
	deskphone-$(word 1,$(1)) $(word 2,$(1)) deskphone-$(word 1,$(1)) $(word 2,$(1)) \
	* - - deskphone$(if $(word 3,$(1)),$(comma)$(word 3,$(1))) deskphone $(word 1,$(1))

# $(1): name uid (not in the deskphone group: helpers use no service socket)
DESKPHONE_HELPER_USER = \
	deskphone-$(word 1,$(1)) $(word 2,$(1)) deskphone-$(word 1,$(1)) $(word 2,$(1)) \
	* - - - deskphone $(word 1,$(1))

$(eval $(cargo-package))

# Vendor the crates of the workspace into the download directory, once per
# Cargo.lock, so that later builds run offline.
deskphone-vendor: host-rustc
	$(DESKPHONE_VENDOR_ENV) $(DESKPHONE_VENDOR) fetch $(DESKPHONE_SITE) $(DESKPHONE_DL_DIR)

deskphone-source: deskphone-vendor

.PHONY: deskphone-vendor
