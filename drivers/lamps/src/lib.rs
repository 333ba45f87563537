//! The phone's lamps: message waiting and line lamps through the LED class or GPIO.
