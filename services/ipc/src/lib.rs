//! deskphone-ipc
