//! The phone's face: the screens and menus of a 7940/7960-class phone, driven by its keys and
//! hook switch, showing what sipd, provd and mediad report.
//!
//! [`core::UiCore`] is the state machine (sans-IO: keys, service events and the time in;
//! requests for the services and the screen out). [`settings`] builds the Settings tree
//! from the configuration table, [`entry`] types text on twelve keys, [`history`] keeps the
//! call lists. The service around them lives in `service.rs`.

pub mod clock;
pub mod core;
pub mod entry;
pub mod history;
pub mod logo;
pub mod service;
pub mod settings;
pub mod xml;
