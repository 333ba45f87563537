//! The baresip harness against real peers: baresip instances calling each other through
//! Kamailio (registered, by AoR) and directly (no registrar), with hold and resume, a blind
//! transfer, and the audio each one receives.

use std::time::{Duration, Instant};

use deskphone_e2e::baresip::{sine_wav, wav_samples, Baresip, BaresipOptions, SINE_HZ};
use deskphone_e2e::sip::Kamailio;

const WAIT: Duration = Duration::from_secs(5);

/// Sign changes per second / 2: the frequency of a clean tone.
fn tone_hz(samples: &[i16], rate: u32) -> f64 {
    let crossings = samples
        .windows(2)
        .filter(|w| (w[0] < 0) != (w[1] < 0))
        .count();
    crossings as f64 / 2.0 / (samples.len() as f64 / f64::from(rate))
}

#[test]
fn two_registered_baresips_call_each_other_through_kamailio() {
    let started = Instant::now();
    let kam = Kamailio::start(&[("alice", "secret-a"), ("bob", "secret-b")]);
    let alice = Baresip::start(BaresipOptions {
        password: Some("secret-a".into()),
        registrar: Some(kam.addr),
        ..BaresipOptions::new("alice")
    });
    let bob = Baresip::start(BaresipOptions {
        password: Some("secret-b".into()),
        registrar: Some(kam.addr),
        auto_answer: true,
        ..BaresipOptions::new("bob")
    });
    assert_eq!(
        kam.registered_users(),
        vec!["alice".to_string(), "bob".to_string()]
    );
    // Both registered with digest authentication.
    let outcomes: Vec<(String, String)> = kam
        .registers()
        .into_iter()
        .map(|r| (r.user, r.outcome))
        .collect();
    for user in ["alice", "bob"] {
        assert!(
            outcomes.contains(&(user.to_string(), "registered".to_string())),
            "{user}: {outcomes:?}"
        );
    }

    // A user without a binding: Kamailio's 404 ends the call at once.
    alice.dial(&format!("sip:carol@{}", kam.addr));
    let closed = alice.wait_event("CALL_CLOSED", WAIT);
    assert!(
        closed["param"].as_str().unwrap_or_default().contains("404"),
        "{closed}"
    );

    // Cancelled while ringing: the CANCEL (and the ACK of the 487) go through Kamailio.
    bob.set_auto_answer(false);
    alice.dial(&bob.aor);
    let incoming = bob.wait_event("CALL_INCOMING", WAIT);
    assert_eq!(incoming["peeruri"], alice.aor.as_str(), "{incoming}");
    alice.wait_event("CALL_RINGING", WAIT);
    alice.hangup();
    bob.wait_event("CALL_CLOSED", WAIT);
    alice.wait_event("CALL_CLOSED", WAIT);
    bob.set_auto_answer(true);

    // bob answers at once (no CALL_INCOMING event then, in baresip 1.0.0).
    alice.dial(&bob.aor);
    let established = alice.wait_event("CALL_ESTABLISHED", WAIT);
    assert_eq!(established["peeruri"], bob.aor.as_str(), "{established}");
    let answered = bob.wait_event("CALL_ESTABLISHED", WAIT);
    assert_eq!(answered["peeruri"], alice.aor.as_str(), "{answered}");
    assert_eq!(answered["direction"], "incoming", "{answered}");
    // Media flows both ways (directly, Kamailio only routes the signalling).
    alice.wait_event("CALL_RTPESTAB", WAIT);
    bob.wait_event("CALL_RTPESTAB", WAIT);
    assert!(alice.list_calls().contains("ESTABLISHED"));

    // Hold and resume: re-INVITEs along the recorded route, offers at bob's side.
    alice.hold();
    let offer = bob.wait_event("CALL_REMOTE_SDP", WAIT);
    assert_eq!(offer["param"], "offer", "{offer}");
    alice.resume();
    let offer = bob.wait_event("CALL_REMOTE_SDP", WAIT);
    assert_eq!(offer["param"], "offer", "{offer}");

    alice.hangup();
    let closed = bob.wait_event("CALL_CLOSED", WAIT);
    assert_eq!(closed["id"], established["id"], "{closed}");
    alice.wait_event("CALL_CLOSED", WAIT);
    assert!(
        !bob.event_types().iter().any(|t| t == "REGISTER_FAIL"),
        "{:?}",
        bob.event_types()
    );
    assert!(started.elapsed() < Duration::from_secs(20));
}

#[test]
fn a_direct_call_without_registrar_carries_the_audio_of_both_sides() {
    let started = Instant::now();
    let files = tempfile::tempdir().expect("tempdir");
    let tone = files.path().join("tone.wav");
    sine_wav(&tone, 1000, 10);
    let alice = Baresip::start(BaresipOptions {
        audio_sink: Some(files.path().join("alice")),
        ..BaresipOptions::new("alice")
    });
    let bob = Baresip::start(BaresipOptions {
        audio_source: Some(tone),
        audio_sink: Some(files.path().join("bob")),
        ..BaresipOptions::new("bob")
    });

    // bob answers by hand, after ringing.
    alice.dial(&format!("sip:bob@{}", bob.sip_addr));
    let incoming = bob.wait_event("CALL_INCOMING", WAIT);
    assert_eq!(incoming["peeruri"], "sip:alice@127.0.0.1", "{incoming}");
    alice.wait_event("CALL_RINGING", WAIT);
    bob.accept();
    bob.wait_event("CALL_ESTABLISHED", WAIT);
    alice.wait_event("CALL_ESTABLISHED", WAIT);
    alice.wait_event("CALL_RTPESTAB", WAIT);
    bob.wait_event("CALL_RTPESTAB", WAIT);
    std::thread::sleep(Duration::from_secs(2));
    alice.hangup();
    alice.wait_event("CALL_CLOSED", WAIT);
    bob.wait_event("CALL_CLOSED", WAIT);

    // alice heard bob's 1 kHz file, bob alice's sine.
    for (who, b, hz) in [("alice", &alice, 1000.0), ("bob", &bob, f64::from(SINE_HZ))] {
        let recordings = b.received_audio();
        assert_eq!(recordings.len(), 1, "{who}: {recordings:?}");
        let samples = wav_samples(&recordings[0]);
        assert!(samples.len() > 8000, "{who}: {} samples", samples.len());
        // The last second: past the start of the stream.
        let last = &samples[samples.len() - 8000..];
        let heard = tone_hz(last, 8000);
        assert!((heard - hz).abs() < hz * 0.05, "{who} heard {heard} Hz");
        assert!(
            last.iter().any(|&s| s.unsigned_abs() > 4000),
            "{who}: too quiet"
        );
    }
    assert!(started.elapsed() < Duration::from_secs(20));
}

#[test]
fn a_blind_transfer_through_kamailio_connects_the_transferee_to_the_target() {
    let started = Instant::now();
    let users = [("alice", "pw-a"), ("bob", "pw-b"), ("carol", "pw-c")];
    let kam = Kamailio::start(&users);
    let [alice, bob, carol] = users.map(|(user, pw)| {
        Baresip::start(BaresipOptions {
            password: Some(pw.into()),
            registrar: Some(kam.addr),
            auto_answer: true,
            ..BaresipOptions::new(user)
        })
    });
    alice.dial(&bob.aor);
    let first = alice.wait_event("CALL_ESTABLISHED", WAIT);
    bob.wait_event("CALL_ESTABLISHED", WAIT);

    // bob sends alice a REFER to carol: alice calls carol, bob's call ends.
    bob.transfer(&carol.aor);
    let to_carol = carol.wait_event("CALL_ESTABLISHED", WAIT);
    assert_eq!(to_carol["peeruri"], alice.aor.as_str(), "{to_carol}");
    let second = alice.wait_event("CALL_ESTABLISHED", WAIT);
    assert_eq!(second["peeruri"], carol.aor.as_str(), "{second}");
    bob.wait_event("CALL_CLOSED", WAIT);
    let closed = alice.wait_event("CALL_CLOSED", WAIT);
    assert_eq!(closed["id"], first["id"], "{closed}");
    let refer = alice.wait_event("TRANSFER", WAIT);
    assert_eq!(refer["param"], carol.aor.as_str(), "{refer}");
    assert_eq!(refer["id"], first["id"], "{refer}");

    carol.hangup();
    alice.wait_event("CALL_CLOSED", WAIT);
    assert!(started.elapsed() < Duration::from_secs(20));
}
