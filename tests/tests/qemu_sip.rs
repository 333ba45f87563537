//! sipd and mediad in the booted image (QEMU), behind a NAT: QEMU's user network is the
//! phone's NAT router, with the public address 198.51.100.1 and the phone's SIP and media
//! ports forwarded (`nat_enable`, `nat_address`), and the PBX (a real Kamailio) and a second
//! phone (baresip) are on 192.0.2.1, in a network namespace of the test's own where the host
//! and the phone reach them alike.
//!
//! The sample tree's two lines register with digest authentication, and `phonectl status` in
//! the image says so. The phone calls baresip: RTP both ways, counted at both ends, and audio
//! through the image's sound card (QEMU's HDA through ALSA `default`, its host side a speaker
//! and a microphone on PulseAudio, see [`deskphone_e2e::sound`]): baresip hears the tone the
//! phone's microphone hears, the phone's speaker plays baresip's sine; baresip hangs up
//! through the NAT. Then check-sync NOTIFYs from SIPp on the PBX's address: taken, and after
//! 20 s of idle phone no reboot while syncinfo.xml's SYNC is unchanged; refused (403) once
//! the PBX is no configured proxy any more; taken again and a reboot when SYNC changed.
//!
//! One boot for all of it (the check-sync reboot aside): under TCG a boot costs a minute.

use std::time::{Duration, Instant};

use deskphone_e2e::baresip::{tone_share, wav_samples, Baresip, BaresipOptions, SINE_HZ};
use deskphone_e2e::qemu::{image, report, QemuPhone, Screendump};
use deskphone_e2e::sip::{check_sync_scenario, Kamailio, Sipp};
use deskphone_e2e::sound::Sound;
use deskphone_e2e::{private_network, workspace, write_tree};
use serde_json::Value;

/// TCG emulation on two cores.
const BOOT_TIMEOUT: Duration = Duration::from_secs(300);

/// The PBX's and baresip's network: TEST-NET-1, on the loopback of the test's network
/// namespace (the phone cannot reach the host's 127.0.0.1).
const PBX_ADDR: &str = "192.0.2.1";
/// The public address of the phone's NAT router (TEST-NET-2): QEMU's port forwards listen
/// there, and the phone advertises it (`nat_address`).
const NAT_ADDR: &str = "198.51.100.1";
/// The phone's media ports (`start_media_port`..=`end_media_port`), each forwarded: RTP and
/// RTCP of two calls.
const MEDIA_PORTS: (u16, u16) = (20000, 20003);
/// What the phone's microphone hears (baresip sends its 440 Hz sine).
const PHONE_HZ: u32 = 1000;

#[test]
fn the_image_registers_the_sample_lines_behind_nat_and_calls_baresip_with_audio_both_ways() {
    let test_start = Instant::now();
    image();
    private_network(&[PBX_ADDR, NAT_ADDR]);
    let kam = Kamailio::start_on(
        PBX_ADDR,
        &[
            ("1001", "secret1001"),
            ("1002", "secret1002"),
            ("1003", "secret1003"),
        ],
    );
    // The sample tree, its registrar moved to the PBX, behind the NAT with a few media ports.
    let tree = tempfile::tempdir().unwrap();
    let sample = workspace().join("examples/tftp");
    for name in [
        "SIPDefault.cnf",
        "SIP525400123456.cnf",
        "dialplan.xml",
        "syncinfo.xml",
    ] {
        let mut text = std::fs::read_to_string(sample.join(name)).unwrap();
        if name == "SIPDefault.cnf" {
            let edits = [
                (
                    "proxy1_address: \"127.0.0.1\"".to_string(),
                    format!("proxy1_address: \"{PBX_ADDR}\""),
                ),
                (
                    "proxy1_port: \"5060\"".to_string(),
                    format!("proxy1_port: \"{}\"", kam.addr.port()),
                ),
                (
                    "start_media_port: \"16384\"".to_string(),
                    format!("start_media_port: \"{}\"", MEDIA_PORTS.0),
                ),
                (
                    "end_media_port: \"32766\"".to_string(),
                    format!(
                        "end_media_port: \"{}\"\nnat_enable: \"1\"\nnat_address: \"{NAT_ADDR}\"",
                        MEDIA_PORTS.1
                    ),
                ),
            ];
            for (from, to) in edits {
                assert!(text.contains(&from), "the sample's {from} moved");
                text = text.replace(&from, &to);
            }
        }
        write_tree(tree.path(), &[(name, &text)]);
    }
    let mut phone = QemuPhone::new("qemu_sip", tree.path());
    phone.behind_nat(NAT_ADDR, 5060, MEDIA_PORTS);
    let sound = Sound::start(&phone.dir.join("sound"), PHONE_HZ);
    phone.sound(&sound);
    phone.boot();
    let (_, provisioned) = phone.wait_ready(BOOT_TIMEOUT);
    let sipd = phone
        .wait_active("sipd.service", BOOT_TIMEOUT)
        .expect("no restart");
    report(&format!(
        "QEMU start to provisioning done {:.1} s; sipd ready {:.1} s after the kernel started",
        provisioned.as_secs_f64(),
        sipd.as_secs_f64()
    ));

    // Both lines registered, as the image's phonectl reports them.
    let start = Instant::now();
    let lines = loop {
        let s = phone.status();
        let lines = s["lines"].as_array().cloned().unwrap_or_default();
        if lines.len() == 2 && lines.iter().all(|l| l["registered"] == true) {
            break lines;
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "lines not registered: {:#}\n{}",
            s["lines"],
            kam.log_text()
        );
        std::thread::sleep(Duration::from_secs(1));
    };
    report(&format!(
        "both lines registered {:.1} s after provd was ready (as seen by polling)",
        start.elapsed().as_secs_f64()
    ));
    let proxy = format!("{PBX_ADDR}:{}", kam.addr.port());
    for (l, name) in lines.iter().zip(["1001", "1002"]) {
        assert_eq!(l["name"], name, "{l:#}");
        assert_eq!(l["proxy"], proxy.as_str(), "{l:#}");
    }

    // Kamailio's side: a binding for each line at the NAT's public address (where the SIP
    // port is forwarded), after a digest challenge.
    let contacts = kam.contacts();
    for user in ["1001", "1002"] {
        let c = contacts
            .iter()
            .find(|c| c.aor == user)
            .unwrap_or_else(|| panic!("no binding for {user}: {contacts:?}"));
        assert!(
            c.address
                .starts_with(&format!("sip:{user}@{NAT_ADDR}:5060")),
            "{c:?} (the phone's contact)"
        );
    }
    let regs = kam.registers();
    for user in ["1001", "1002"] {
        let outcomes: Vec<&str> = regs
            .iter()
            .filter(|r| r.user == user)
            .map(|r| r.outcome.as_str())
            .collect();
        assert_eq!(
            outcomes.first().copied(),
            Some("challenged"),
            "{user}: {outcomes:?}"
        );
        assert_eq!(
            outcomes.last().copied(),
            Some("registered"),
            "{user}: {outcomes:?}"
        );
    }

    // The text status in the image names the lines too.
    let text = phone.sh_ok("phonectl status");
    assert!(text.contains("1001") && text.contains("1002"), "{text}");
    let s: Value = phone.status();
    assert_eq!(s["provisioning"]["state"], "provisioned", "{s:#}");

    call_baresip(&mut phone, &kam, &sound);
    answer_baresip_by_key(&mut phone, &kam);
    plug_in_a_keypad(&mut phone);
    uinput_keypad_and_hook_switch(&mut phone);
    check_sync(&mut phone, tree.path());
    report(&format!(
        "test qemu_sip: {:.1} s",
        test_start.elapsed().as_secs_f64()
    ));
}

/// The share of a screendump's pixels in the UI's background colour (the framebuffer is
/// bochs-display's 32-bit XRGB8888: every colour is shown as it is).
fn background_share(shot: &Screendump) -> f64 {
    let background = deskphone_screen::render::Theme::LCD.background;
    use embedded_graphics::pixelcolor::RgbColor;
    shot.share_of([background.r(), background.g(), background.b()])
}

/// baresip calls the phone: the image's UI shows it ringing on its framebuffer (QEMU's
/// display), F1 pressed through QMP reaches the UI through evdev as the Answer soft key,
/// the call connects, and F2 (EndCall) ends it.
fn answer_baresip_by_key(phone: &mut QemuPhone, kam: &Kamailio) {
    let wait = Duration::from_secs(60);
    let s = phone.wait_screen("idle", wait);
    let ui = &s["ui"];
    assert!(
        ui["display"]
            .as_str()
            .is_some_and(|d| d.contains("/dev/fb0")),
        "the UI draws on the framebuffer: {ui:#}"
    );
    assert!(
        ui["inputs"].as_array().is_some_and(|i| !i.is_empty()),
        "the UI reads the keyboard: {ui:#}"
    );
    let idle = phone.screendump("screen-idle");
    let idle_bg = background_share(&idle);
    assert!(
        idle_bg > 0.5,
        "QEMU's display shows the UI: {idle_bg:.2} background"
    );

    let bob = Baresip::start(BaresipOptions {
        ip: Some(PBX_ADDR.into()),
        password: Some("secret1003".into()),
        registrar: Some(kam.addr),
        ..BaresipOptions::new("1003")
    });
    let start = Instant::now();
    bob.dial(&format!("sip:1001@{PBX_ADDR}:{}", kam.addr.port()));
    let s = phone.wait_screen("ringing", wait);
    assert_eq!(s["screen"]["softkeys"][0], "Answer", "{:#}", s["screen"]);
    let ringing_after = start.elapsed();
    let ringing = phone.screendump("screen-ringing");
    assert!(
        idle.pixels_differing(&ringing) > 0,
        "the display changed for the ringing call"
    );

    phone.qmp().press_key("f1").unwrap();
    bob.wait_event("CALL_ESTABLISHED", wait);
    let key_to_call = start.elapsed() - ringing_after;
    let s = phone.wait_screen("connected", wait);
    assert_eq!(
        s["ui"]["audio_path"], "speaker",
        "answered on the speaker: {s:#}"
    );
    let connected = phone.screendump("screen-connected");
    assert!(
        ringing.pixels_differing(&connected) > 0,
        "the display changed for the connected call"
    );

    phone.qmp().press_key("f2").unwrap();
    bob.wait_event("CALL_CLOSED", wait);
    phone.wait_screen("idle", wait);
    report(&format!(
        "UI in the image: {}x{} framebuffer, {idle_bg:.2} of it background when idle; \
         ringing shown {:.1} s after baresip dialled; F1 through QMP to an established call \
         in {:.1} s",
        idle.width,
        idle.height,
        ringing_after.as_secs_f64(),
        key_to_call.as_secs_f64()
    ));
}

/// A second keyboard plugged in while the phone runs (a virtio keyboard hot-plugged into a
/// PCIe slot, as a USB keypad would be on the Pi): the UI finds it by itself and drops it when
/// it is unplugged.
fn plug_in_a_keypad(phone: &mut QemuPhone) {
    let inputs = |phone: &mut QemuPhone| -> Vec<Value> {
        phone.status()["ui"]["inputs"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    };
    let wait_inputs = |phone: &mut QemuPhone, n: usize| {
        let start = Instant::now();
        loop {
            let now = inputs(phone);
            if now.len() == n {
                return start.elapsed();
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "the UI reads {now:?}, not {n} devices"
            );
            std::thread::sleep(Duration::from_millis(500));
        }
    };
    let before = inputs(phone).len();
    let mut qmp = phone.qmp();
    qmp.execute(
        "device_add",
        serde_json::json!({"driver": "virtio-keyboard-pci", "id": "keypad2", "bus": "keypad-slot"}),
    )
    .unwrap();
    let found = wait_inputs(phone, before + 1);
    // Its keys are checked with a uinput keypad below: QEMU sends QMP's keys to whichever
    // keyboard it chooses, not to a given one.
    qmp.execute("device_del", serde_json::json!({"id": "keypad2"}))
        .unwrap();
    let dropped = wait_inputs(phone, before);
    report(&format!(
        "keypad plugged in: read by the UI {:.1} s after device_add, dropped {:.1} s after \
         device_del",
        found.as_secs_f64(),
        dropped.as_secs_f64()
    ));
}

/// A keypad with a hook switch made with uinput in the image (evemu-device, as a test
/// backend for the evdev path): the UI finds it, its keys work, and its switch
/// (`SW_MACHINE_COVER`, 1 = on hook, as the Pi's gpio-keys overlay reports it) lifts and
/// puts down the handset.
fn uinput_keypad_and_hook_switch(phone: &mut QemuPhone) {
    let wait = Duration::from_secs(30);
    // evemu's description: EV_SYN, EV_KEY and EV_SW; KEY_F4 (62) and KEY_F7 (65);
    // SW_MACHINE_COVER (16).
    phone.sh_ok(
        "printf '%s\\n' '# EVEMU 1.3' 'N: deskphone uinput keypad' 'I: 0006 1209 0001 0001' \
         'P: 00 00 00 00 00 00 00 00' 'B: 00 23 00 00 00 00 00 00 00' \
         'B: 01 00 00 00 00 00 00 00 40' 'B: 01 02 00 00 00 00 00 00 00' \
         'B: 05 00 00 01 00 00 00 00 00' > /tmp/keypad.desc",
    );
    phone
        .sh_ok("(evemu-device /tmp/keypad.desc >/tmp/keypad.node 2>&1 & echo $! >/tmp/keypad.pid)");
    let node = {
        let start = Instant::now();
        loop {
            let out = phone.sh_ok("cat /tmp/keypad.node");
            if let Some(n) = out
                .split_whitespace()
                .find(|w| w.starts_with("/dev/input/event"))
            {
                break n.to_string();
            }
            assert!(start.elapsed() < wait, "evemu-device: {out}");
            std::thread::sleep(Duration::from_millis(300));
        }
    };
    let start = Instant::now();
    loop {
        let inputs = phone.status()["ui"]["inputs"].to_string();
        if inputs.contains(&node) {
            break;
        }
        assert!(
            start.elapsed() < wait,
            "the UI does not read {node}: {inputs}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    let event = |phone: &mut QemuPhone, kind: &str, code: &str, value: u8| {
        phone.sh_ok(&format!(
            "evemu-event {node} --type {kind} --code {code} --value {value} --sync"
        ));
    };
    // A new switch starts at 0 (open: off hook), and the UI reads the position when it
    // opens the device: the handset counts as lifted until the switch closes.
    phone.wait_screen("dialing", wait);
    event(phone, "EV_SW", "SW_MACHINE_COVER", 1);
    phone.wait_screen("idle", wait);
    event(phone, "EV_KEY", "KEY_F7", 1);
    event(phone, "EV_KEY", "KEY_F7", 0);
    phone.wait_screen("directories", wait);
    event(phone, "EV_KEY", "KEY_F4", 1);
    event(phone, "EV_KEY", "KEY_F4", 0);
    phone.wait_screen("idle", wait);
    // The switch opens: the handset is lifted, dial tone on the handset.
    event(phone, "EV_SW", "SW_MACHINE_COVER", 0);
    let s = phone.wait_screen("dialing", wait);
    assert_eq!(s["ui"]["audio_path"], "handset", "{s:#}");
    event(phone, "EV_SW", "SW_MACHINE_COVER", 1);
    phone.wait_screen("idle", wait);
    phone.sh_ok("kill $(cat /tmp/keypad.pid)");
    let start = Instant::now();
    while phone.status()["ui"]["inputs"].to_string().contains(&node) {
        assert!(
            start.elapsed() < wait,
            "{node} still read after it went away"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    report("uinput keypad and hook switch (evemu) in the image: keys, hook up and down, unplug");
}

/// The phone's calls, from `phonectl status` in the image.
fn calls(phone: &mut QemuPhone) -> Vec<Value> {
    phone.status()["calls"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// Polls the phone's calls until `f` finds what it wants.
fn wait_calls<T>(
    phone: &mut QemuPhone,
    what: &str,
    timeout: Duration,
    mut f: impl FnMut(&[Value]) -> Option<T>,
) -> T {
    let start = Instant::now();
    loop {
        let c = calls(phone);
        if let Some(v) = f(&c) {
            return v;
        }
        assert!(
            start.elapsed() < timeout,
            "no {what} after {timeout:?}: calls {c:#?}\nmediad:\n{}",
            phone.sh_ok("journalctl -u mediad.service -u sipd.service --no-pager | tail -30")
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// The call's `rtp` once it has sent and received `packets` more than `since` (each way).
fn rtp_beyond(phone: &mut QemuPhone, since: &Value, packets: u64) -> Value {
    let count = |r: &Value, k: &str| r[k].as_u64().unwrap_or(0);
    let (sent, received) = (
        count(since, "sent") + packets,
        count(since, "received") + packets,
    );
    let what = format!("{sent} RTP packets sent and {received} received");
    wait_calls(phone, &what, Duration::from_secs(60), |c| {
        c.iter()
            .map(|c| &c["rtp"])
            .find(|r| count(r, "sent") >= sent && count(r, "received") >= received)
            .cloned()
    })
}

/// The share of the 100 ms blocks of `samples` that are a clean tone (see [`tone_share`])
/// within 1 % of `freq`, and the frequency most of them have.
///
/// Not exactly `freq`: the image's ALSA `default` converts the phone's 8 kHz to the card's
/// 48 kHz through alsa-lib's linear rate plugin with periods of 1024 and 170 frames, a ratio
/// of 6.02 rather than 6, so what the phone plays is 0.4 % low and what it records 0.4 % high.
fn tone_blocks_near(samples: &[i16], freq: f64) -> (f64, f64) {
    let tolerance = (freq / 100.0).round() as i32;
    let mut found: Vec<i32> = Vec::new();
    let blocks: Vec<&[i16]> = samples.chunks_exact(800).collect();
    for b in &blocks {
        let best = (-tolerance..=tolerance)
            .map(|d| (tone_share(b, freq + f64::from(d)), d))
            .max_by(|x, y| x.0.total_cmp(&y.0));
        if let Some((_, d)) = best.filter(|(share, _)| *share > 0.8) {
            found.push(d);
        }
    }
    let share = found.len() as f64 / blocks.len().max(1) as f64;
    found.sort_unstable();
    let typical = found.get(found.len() / 2).copied().unwrap_or(0);
    (share, freq + f64::from(typical))
}

/// The phone (line 1001) calls baresip (1003) through the PBX and the NAT; baresip hangs up
/// after some seconds of audio both ways.
fn call_baresip(phone: &mut QemuPhone, kam: &Kamailio, sound: &Sound) {
    let start = Instant::now();
    // Kept with the serial log, for a look after a failure.
    let recordings = phone.dir.join("baresip");
    let bob = Baresip::start(BaresipOptions {
        ip: Some(PBX_ADDR.into()),
        password: Some("secret1003".into()),
        registrar: Some(kam.addr),
        auto_answer: true,
        audio_sink: Some(recordings),
        ..BaresipOptions::new("1003")
    });

    phone.sh_ok("phonectl dial 1003");
    let wait = Duration::from_secs(60);
    bob.wait_event("CALL_ESTABLISHED", wait);
    wait_calls(phone, "a connected call", wait, |c| {
        c.iter().find(|c| c["state"] == "connected").cloned()
    });
    // baresip got the phone's RTP, at the NAT's public address and forwarded media port.
    bob.wait_event("CALL_RTPESTAB", wait);
    let connected = start.elapsed();
    // The first seconds: the phone opens its sound card (its first packets wait for the
    // microphone), jitter buffers settle.
    let settled = rtp_beyond(phone, &Value::Null, 150);
    let from = sound.speaker().len();
    let steady = Instant::now();
    // Then 250 packets each way (5 s), which the phone and baresip hear.
    let rtp = rtp_beyond(phone, &settled, 250);
    let to = sound.speaker().len();
    let steady = steady.elapsed();
    assert_eq!(rtp["codec"], "PCMU", "{rtp}");
    let port = rtp["local_port"].as_u64().unwrap_or(0);
    assert!(
        (u64::from(MEDIA_PORTS.0)..=u64::from(MEDIA_PORTS.1)).contains(&port),
        "media port {port} outside the forwarded range: {rtp}"
    );
    assert!(
        rtp["remote"]
            .as_str()
            .is_some_and(|r| r.starts_with(&format!("{PBX_ADDR}:"))),
        "{rtp}"
    );
    assert!(
        steady < Duration::from_secs(10),
        "250 packets each way took {steady:?}, not about 5 s: {settled}\n{rtp}"
    );

    // baresip ends the call: its BYE reaches the phone at its public address too.
    bob.hangup();
    bob.wait_event("CALL_CLOSED", wait);
    wait_calls(phone, "the end of the call", wait, |c| {
        c.is_empty().then_some(())
    });

    // What baresip heard: the phone's microphone, from when both ways had settled.
    let received = bob.received_audio();
    let at_bob = wav_samples(received.last().expect("baresip's recording"));
    let skip = 3 * 8000;
    assert!(
        at_bob.len() >= skip + 5 * 8000,
        "baresip recorded {:.1} s: {rtp}",
        at_bob.len() as f64 / 8000.0
    );
    let (bob_share, bob_hz) = tone_blocks_near(&at_bob[skip..], f64::from(PHONE_HZ));
    // What the phone's speaker played meanwhile: baresip's sine.
    let played = sound.speaker();
    let played = &played[from.min(played.len())..to.min(played.len())];
    let (phone_share, phone_hz) = tone_blocks_near(played, f64::from(SINE_HZ));
    let (echo, _) = tone_blocks_near(played, f64::from(PHONE_HZ));
    report(&format!(
        "call: connected {:.1} s after the dial, then 150 packets each way, then 250 more in \
         {:.1} s: {rtp}; baresip heard {bob_share:.2} of its 100 ms blocks at {bob_hz} Hz \
         (the phone's {PHONE_HZ} Hz), the phone's speaker played {phone_share:.2} at \
         {phone_hz} Hz (baresip's {SINE_HZ} Hz) and {echo:.2} at {PHONE_HZ} Hz",
        connected.as_secs_f64(),
        steady.as_secs_f64(),
    ));
    // Measured: 0.99-1.00 at baresip. The speaker's share is lower (0.7-0.8): under TCG
    // mediad misses the card's deadlines now and then (underruns, and its jitter buffer
    // adjusts), and each glitch spoils a block.
    assert!(
        bob_share > 0.8,
        "baresip heard {PHONE_HZ} Hz in {bob_share:.2} of the blocks"
    );
    assert!(
        phone_share > 0.5,
        "the speaker played {SINE_HZ} Hz in {phone_share:.2} of the blocks"
    );
    assert!(
        echo < 0.05,
        "the speaker played the phone's own microphone in {echo:.2} of the blocks"
    );
}

/// The resync's last result once it changed from `before`.
fn wait_resync_result(phone: &mut QemuPhone, before: &Value, timeout: Duration) -> Value {
    let start = Instant::now();
    loop {
        let s = phone.status();
        if s["resync"]["last_result"] != *before && !s["resync"]["last_result"].is_null() {
            return s["resync"].clone();
        }
        assert!(
            start.elapsed() < timeout,
            "no resync result: {:#}",
            s["resync"]
        );
        std::thread::sleep(Duration::from_secs(2));
    }
}

fn check_sync(phone: &mut QemuPhone, tree: &std::path::Path) {
    let target = format!("{NAT_ADDR}:{}", phone.sip_host_port());
    let before = phone.status()["resync"]["last_result"].clone();

    // From the proxy, SYNC unchanged: taken, then after 20 s of idle phone nothing to do.
    let sent = Instant::now();
    let mut pbx = Sipp::start_on(PBX_ADDR, &check_sync_scenario(200), &[&target]);
    assert_eq!(pbx.wait(Duration::from_secs(30)), Some(0), "200 expected");
    let resync = wait_resync_result(phone, &before, Duration::from_secs(150));
    assert!(
        resync["last_result"]
            .as_str()
            .unwrap()
            .contains("unchanged"),
        "{resync:#}"
    );
    assert!(
        sent.elapsed() >= Duration::from_secs(20),
        "the 20 s idle wait was not honoured"
    );
    assert_eq!(phone.boots, 1, "no reboot for an unchanged SYNC");
    report(&format!(
        "check-sync with SYNC unchanged: result {:.1} s after the NOTIFY",
        sent.elapsed().as_secs_f64()
    ));

    // The PBX no longer a proxy (a local edit): the same NOTIFY is refused. The new proxy is
    // the phone's own loopback: an address the host has no route to would make slirp close
    // the SIP port forwarding (it sends from that socket).
    phone.sh_ok("phonectl set proxy1_address 127.0.0.1 --password cisco");
    let start = Instant::now();
    while !phone.status()["lines"][0]["proxy"]
        .as_str()
        .unwrap_or_default()
        .starts_with("127.0.0.1")
    {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "sipd kept the old proxy"
        );
        std::thread::sleep(Duration::from_secs(1));
    }
    let mut stranger = Sipp::start_on(PBX_ADDR, &check_sync_scenario(403), &[&target]);
    let ended = stranger.try_wait(Duration::from_secs(30));
    if ended != Some(0) {
        let journal = phone.sh_ok("journalctl -u sipd.service --no-pager | tail -40");
        panic!(
            "403 expected, SIPp ended {ended:?}; SIPp saw {:#?}\nsipd's journal:\n{journal}",
            stranger.messages()
        );
    }
    let log = phone.sh_ok("journalctl -u sipd.service --no-pager");
    assert!(
        log.contains(&format!("from {PBX_ADDR}"))
            && log.contains("refused: not a configured proxy"),
        "{log}"
    );

    // Back to the proxy, and a new SYNC in syncinfo.xml: the phone reboots after 20 s.
    phone.sh_ok(&format!(
        "phonectl set proxy1_address {PBX_ADDR} --password cisco"
    ));
    // As an administrator does: the new SYNC in syncinfo.xml and in SIPDefault.cnf, whose
    // `sync` wins over the phone's flash at the next boot.
    let default = std::fs::read_to_string(tree.join("SIPDefault.cnf")).unwrap();
    assert!(default.contains("sync: \"1\""), "the sample's sync line");
    let default = default.replace("sync: \"1\"", "sync: \"2\"");
    write_tree(
        tree,
        &[
            (
                "syncinfo.xml",
                "<SYNCINFO>\n  <IMAGE VERSION=\"*\" SYNC=\"2\"/>\n</SYNCINFO>\n",
            ),
            ("SIPDefault.cnf", &default),
        ],
    );
    let start = Instant::now();
    while !phone.status()["lines"][0]["proxy"]
        .as_str()
        .unwrap_or_default()
        .starts_with(PBX_ADDR)
    {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "sipd kept 127.0.0.1"
        );
        std::thread::sleep(Duration::from_secs(1));
    }
    let sent = Instant::now();
    let mut pbx = Sipp::start_on(PBX_ADDR, &check_sync_scenario(200), &[&target]);
    assert_eq!(pbx.wait(Duration::from_secs(30)), Some(0), "200 expected");
    let rebooted = phone.wait_reboot(Duration::from_secs(180));
    assert!(
        rebooted >= Duration::from_secs(20),
        "rebooted {rebooted:?} after the NOTIFY, before 20 s of idle"
    );
    phone.wait_ready(BOOT_TIMEOUT);
    assert_eq!(phone.boots, 2);
    let s = phone.status();
    assert_eq!(s["resync"]["sync"], "2", "{:#}", s["resync"]);
    report(&format!(
        "check-sync with a new SYNC: reboot {:.1} s after the NOTIFY, ready again {:.1} s after it",
        rebooted.as_secs_f64(),
        sent.elapsed().as_secs_f64()
    ));
}
