//! The phone's keys and hook switch: evdev keypads found by capability, keymaps, GPIO hook switch.
