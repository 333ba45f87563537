//! The built-in keymap reads the Pi's own keypad and hook switch right: every key of the
//! `deskphone-keypad` overlay and the switch of `deskphone-hook`, as `deskphone-overlays`
//! describes them, come out of the decoder as the phone key or hook position they stand for.

use std::time::Duration;

use deskphone_input::{
    Binding, DecoderOptions, InputCode, InputEvent, Keymap, KeypadDecoder, RawEvent,
};
use deskphone_ipc::ui::Key;
use deskphone_overlays::{key_code_name, HOOK_SWITCH, KEYPAD_KEYMAP};

fn drain(decoder: &mut KeypadDecoder) -> Vec<InputEvent> {
    std::iter::from_fn(|| decoder.poll_event()).collect()
}

#[test]
fn every_key_of_the_pi_keypad_is_its_phone_key() {
    let keymap = Keymap::builtin();
    let mut decoder = KeypadDecoder::new(keymap.clone(), DecoderOptions::default());
    for (i, &(row, column, code, name)) in KEYPAD_KEYMAP.iter().enumerate() {
        let key: Key = name
            .parse()
            .unwrap_or_else(|e| panic!("{name:?} of the overlays is no phone key: {e}"));
        let linux = key_code_name(code).expect("the overlays name every code they use");
        // Same code, same name: what this crate's keymap files call it is the overlay's name.
        assert_eq!(InputCode::Key(code).to_string(), linux);
        assert_eq!(
            keymap.get(InputCode::Key(code)),
            Some(Binding::Key(key)),
            "row {row} column {column}: {linux} should be {name}"
        );
        // A press and release of the key, as gpio-matrix-keypad sends them.
        let at = Duration::from_millis(1000 * i as u64);
        decoder.handle_event(RawEvent::new(InputCode::Key(code), 1, at));
        decoder.handle_event(RawEvent::new(
            InputCode::Key(code),
            0,
            at + Duration::from_millis(80),
        ));
        assert_eq!(drain(&mut decoder), vec![InputEvent::Key(key)], "{linux}");
    }
}

#[test]
fn the_pi_hook_switch_is_on_while_the_handset_is_on_hook() {
    let keymap = Keymap::builtin();
    let code = InputCode::from_event(HOOK_SWITCH.event_type, HOOK_SWITCH.code)
        .expect("the hook switch sends an event type a keymap binds");
    assert_eq!(code, InputCode::Switch(HOOK_SWITCH.code));
    assert_eq!(code.to_string(), HOOK_SWITCH.code_name);
    // deskphone-overlays: 1 = on hook; a keymap's plain `hook`: 1 = on hook.
    assert_eq!(keymap.get(code), Some(Binding::Hook { invert: false }));
    assert_eq!(keymap.hook_switches().collect::<Vec<_>>(), vec![code]);

    let mut decoder = KeypadDecoder::new(keymap, DecoderOptions::default());
    let switch = |value: i32, ms: u64| RawEvent {
        event_type: HOOK_SWITCH.event_type,
        code: HOOK_SWITCH.code,
        value,
        time: Duration::from_millis(ms),
    };
    // The state read when the device is opened: the handset rests in its cradle.
    decoder.handle_event(switch(1, 0));
    assert_eq!(
        drain(&mut decoder),
        vec![InputEvent::Hook { off_hook: false }]
    );
    // Lifted (the kernel has debounced it already; the decoder's own window passes too).
    decoder.handle_event(switch(0, 1000));
    decoder.handle_timeout(Duration::from_millis(1100));
    assert_eq!(
        drain(&mut decoder),
        vec![InputEvent::Hook { off_hook: true }]
    );
    decoder.handle_event(switch(1, 5000));
    decoder.handle_timeout(Duration::from_millis(5100));
    assert_eq!(
        drain(&mut decoder),
        vec![InputEvent::Hook { off_hook: false }]
    );
}
