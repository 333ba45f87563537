//! The phone's screen: an off-screen frame, the Linux framebuffer and a PNG/memory host backend.
