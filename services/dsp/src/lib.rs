//! Sound processing for the phone (see the crate README).
