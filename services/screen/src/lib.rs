//! A screen of the phone as data ([`model`]) and its drawing ([`render`]).

pub mod model;

pub use model::*;
