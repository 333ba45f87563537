//! The provisioning agent of deskphone.
//!
//! It owns the configuration: at start it runs one provisioning [`cycle`] (SIPDefault.cnf,
//! SIP<MAC>.cnf, dyn_tftp_addr, the dial plan) over TFTP, merges the result over flash, keeps
//! the new flash and the last good files, and publishes the effective configuration and its
//! status on its Unix socket ([`service`]). A check-sync ([`resync`], [`files`]) reads
//! syncinfo.xml once the phone has been idle for 20 s and reboots when the sync value changed.
//!
//! The protocol logic ([`cycle::Cycle`], [`resync::ResyncTimer`], [`files::decide_sync`]) is
//! sans-IO; [`provision::run_cycle`] and [`service`] are the thin shells around it.
//! `phonectl lint` runs the same cycle over a directory ([`lint`]).

pub mod cycle;
pub mod files;
pub mod firmware;
pub mod lint;
pub mod network;
pub mod provision;
pub mod resync;
pub mod servers;
pub mod service;
pub mod source;

/// The firmware version this build reports when the image does not name one.
pub const BUILT_IN_FIRMWARE_VERSION: &str = concat!("deskphone-", env!("CARGO_PKG_VERSION"));

/// Where the image records the version of the firmware it carries.
pub const FIRMWARE_VERSION_FILE: &str = "/etc/deskphone/image_version";

/// The firmware bundle an `image_version` names on the TFTP server (a signed RAUC bundle
/// under the name a Cisco phone would fetch).
pub fn bundle_file_name(image_version: &str) -> String {
    format!("{image_version}.bin")
}
