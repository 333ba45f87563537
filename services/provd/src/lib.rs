//! deskphone-provd
