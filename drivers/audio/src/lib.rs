//! Audio devices for the phone (see the crate README).
