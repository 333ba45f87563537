//! RTP for the phone (see the crate README).
