//! The configuration model of deskphone: every parameter of the Cisco SIP IP Phone
//! Administrator Guide 4.4 (chapter 3) in one table, the `.cnf` parser, and the precedence
//! of defaults, flash and configuration files.
//!
//! # How it fits together
//!
//! - [`table`] lists each parameter once: file name, [`Kind`](table::Kind) (which decides the
//!   validation), default, menu and label, [`Edit`](table::Edit) rule and
//!   [`Origin`](table::Origin) (files, phone only, dynamic, run time).
//! - [`cnf::parse`] turns the bytes of a file into `name: value` entries and syntax
//!   diagnostics. It never fails: every oddity is a [`Diagnostic`] naming file and line.
//! - [`Config`] starts from the defaults, then [`Config::apply_flash`],
//!   [`Config::apply_file`] for SIPDefault.cnf and SIP<MAC>.cnf, then
//!   [`Config::check_consistency`]. Each step returns diagnostics; each setting records
//!   its [`Source`].
//! - [`edit`] holds the rules for changes made on the phone (lock, DHCP, 0-3 preferences).
//!
//! Nothing here does I/O: the provisioning agent fetches the files, the lint reads them from
//! a directory, both feed the same functions.

pub mod cnf;
pub mod config;
pub mod diag;
pub mod edit;
pub mod mac;
pub mod table;
pub mod value;

pub use config::{Config, FileRole, FlashConfig, Setting, Source, UnknownSetting};
pub use diag::{Diagnostic, Severity};
pub use mac::Mac;
pub use table::{lookup, params, Edit, Kind, Menu, Origin, ParamDef, ParamId};
pub use value::{Preference, Value};
