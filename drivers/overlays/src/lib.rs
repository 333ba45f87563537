//! Device-tree overlays for the Pi hardware (keypad, hook switch, LCD, audio codec), checked with dtc.
