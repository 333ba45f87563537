use super::*;
use proptest::prelude::*;

const PHONE_IP: &str = "192.0.2.20";

/// baresip 3.x: opus first, LF line ends, rtcp-mux, telephone-event at two rates.
const BARESIP: &str = "v=0\n\
o=- 1529378034 1690238491 IN IP4 198.51.100.7\n\
s=-\n\
c=IN IP4 198.51.100.7\n\
t=0 0\n\
m=audio 10302 RTP/AVP 111 9 0 8 101 102\n\
b=AS:128\n\
a=rtpmap:111 opus/48000/2\n\
a=fmtp:111 stereo=1;sprop-stereo=1\n\
a=rtpmap:9 G722/8000\n\
a=rtpmap:0 PCMU/8000\n\
a=rtpmap:8 PCMA/8000\n\
a=rtpmap:101 telephone-event/48000\n\
a=rtpmap:102 telephone-event/8000\n\
a=fmtp:102 0-15\n\
a=rtcp-mux\n\
a=ssrc:3104738131 cname:46b1c9e1-8b0b\n\
a=sendrecv\n\
a=label:1\n";

/// Asterisk 18 (chan_pjsip): PCMA first, GSM, session-level c=.
const ASTERISK: &str = "v=0\r\n\
o=- 1821876330 1821876332 IN IP4 192.0.2.10\r\n\
s=Asterisk\r\n\
c=IN IP4 192.0.2.10\r\n\
t=0 0\r\n\
m=audio 12468 RTP/AVP 8 0 3 101\r\n\
a=rtpmap:8 PCMA/8000\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:3 GSM/8000\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
a=fmtp:101 0-16\r\n\
a=ptime:20\r\n\
a=maxptime:150\r\n\
a=sendrecv\r\n";

/// A Cisco gateway / CUCM: G.729 first, media-level c=, no direction attribute.
const CISCO: &str = "v=0\r\n\
o=CiscoSystemsSIP-GW-UserAgent 4019 9653 IN IP4 203.0.113.5\r\n\
s=SIP Call\r\n\
c=IN IP4 203.0.113.5\r\n\
t=0 0\r\n\
m=audio 18456 RTP/AVP 18 0 8 101 19\r\n\
c=IN IP4 203.0.113.6\r\n\
a=rtpmap:18 G729/8000\r\n\
a=fmtp:18 annexb=no\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:8 PCMA/8000\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
a=fmtp:101 0-15\r\n\
a=rtpmap:19 CN/8000\r\n\
a=ptime:30\r\n";

fn settings() -> MediaSettings {
    MediaSettings {
        g729: true,
        ..MediaSettings::default()
    }
}

fn session() -> LocalSession {
    LocalSession::new(4242, "phone", PHONE_IP)
}

fn answer_default(offer: &str, settings: &MediaSettings) -> (String, Negotiated) {
    answer(
        &mut session(),
        settings,
        offer,
        PHONE_IP,
        16384,
        Direction::SendRecv,
    )
    .expect("answer")
}

/// Asterisk offer with its direction line replaced.
fn asterisk_with(direction_line: &str) -> String {
    ASTERISK.replace("a=sendrecv\r\n", direction_line)
}

fn lines(sdp: &str) -> Vec<&str> {
    sdp.split("\r\n").filter(|l| !l.is_empty()).collect()
}

fn m_lines(sdp: &str) -> Vec<&str> {
    lines(sdp)
        .into_iter()
        .filter(|l| l.starts_with("m="))
        .collect()
}

fn origin_version(sdp: &str) -> u64 {
    let o = lines(sdp)
        .into_iter()
        .find(|l| l.starts_with("o="))
        .unwrap();
    o.split(' ').nth(2).unwrap().parse().unwrap()
}

#[test]
fn codec_names_and_config_values() {
    assert_eq!(
        Codec::ALL.map(|c| (c.payload_type(), c.encoding_name())),
        [(0, "PCMU"), (8, "PCMA"), (18, "G729")]
    );
    assert_eq!(Codec::from_config("g711ulaw"), Some(Codec::Pcmu));
    assert_eq!(Codec::from_config("G711ALAW"), Some(Codec::Pcma));
    assert_eq!(Codec::from_config(" g729a "), Some(Codec::G729));
    assert_eq!(Codec::from_config("g729"), Some(Codec::G729));
    assert_eq!(Codec::from_config("none"), None);
    assert_eq!(Codec::from_config("opus"), None);
    assert_eq!(
        DtmfOutOfBand::from_config("avt_always"),
        Some(DtmfOutOfBand::AvtAlways)
    );
    assert_eq!(
        DtmfOutOfBand::from_config("none"),
        Some(DtmfOutOfBand::None)
    );
    assert_eq!(DtmfOutOfBand::from_config("bogus"), None);
}

#[test]
fn offer_with_each_preferred_codec() {
    let cases = [
        (None, true, "m=audio 16384 RTP/AVP 0 8 18 101"),
        (Some(Codec::Pcmu), true, "m=audio 16384 RTP/AVP 0 8 18 101"),
        (Some(Codec::Pcma), true, "m=audio 16384 RTP/AVP 8 0 18 101"),
        (Some(Codec::G729), true, "m=audio 16384 RTP/AVP 18 0 8 101"),
        // G.729 not in this build: never offered, even when preferred.
        (Some(Codec::G729), false, "m=audio 16384 RTP/AVP 0 8 101"),
        (Some(Codec::Pcma), false, "m=audio 16384 RTP/AVP 8 0 101"),
    ];
    for (preferred, g729, m_line) in cases {
        let settings = MediaSettings {
            preferred,
            g729,
            ..MediaSettings::default()
        };
        let sdp = offer(
            &mut session(),
            &settings,
            PHONE_IP,
            16384,
            Direction::SendRecv,
        );
        assert_eq!(m_lines(&sdp), [m_line], "{preferred:?} g729={g729}");
        assert!(sdp.ends_with("\r\n"));
        assert!(!sdp.replace("\r\n", "").contains('\n'), "CRLF only");
        assert_eq!(sdp.contains("a=rtpmap:18 G729/8000"), g729);
        assert_eq!(sdp.contains("a=fmtp:18 annexb=no"), g729);
    }
}

#[test]
fn offer_full_text() {
    let sdp = offer(
        &mut session(),
        &MediaSettings::default(),
        "198.51.100.99",
        16384,
        Direction::SendRecv,
    );
    assert_eq!(
        sdp,
        "v=0\r\n\
o=phone 4242 0 IN IP4 192.0.2.20\r\n\
s=SIP Call\r\n\
c=IN IP4 198.51.100.99\r\n\
t=0 0\r\n\
m=audio 16384 RTP/AVP 0 8 101\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:8 PCMA/8000\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
a=fmtp:101 0-15\r\n\
a=ptime:20\r\n\
a=sendrecv\r\n"
    );
}

#[test]
fn offer_dtmf_payload_and_mode() {
    let mut settings = settings();
    settings.dtmf_payload = 96;
    let sdp = offer(
        &mut session(),
        &settings,
        PHONE_IP,
        4000,
        Direction::SendRecv,
    );
    assert!(sdp.contains("a=rtpmap:96 telephone-event/8000\r\na=fmtp:96 0-15\r\n"));

    settings.dtmf_payload = 42; // out of the dynamic range: 101
    let sdp = offer(
        &mut session(),
        &settings,
        PHONE_IP,
        4000,
        Direction::SendRecv,
    );
    assert!(sdp.contains("a=rtpmap:101 telephone-event/8000"));

    settings.dtmf = DtmfOutOfBand::None;
    let sdp = offer(
        &mut session(),
        &settings,
        PHONE_IP,
        4000,
        Direction::SendRecv,
    );
    assert!(!sdp.contains("telephone-event"));
    assert_eq!(m_lines(&sdp), ["m=audio 4000 RTP/AVP 0 8 18"]);
}

#[test]
fn offer_ipv6_only_when_address_is_ipv6() {
    let mut s = LocalSession::new(1, "phone", "2001:db8::20".parse::<IpAddr>().unwrap());
    let sdp = offer(
        &mut s,
        &settings(),
        "2001:db8::20",
        4000,
        Direction::SendRecv,
    );
    assert!(sdp.contains("o=phone 1 0 IN IP6 2001:db8::20\r\n"));
    assert!(sdp.contains("c=IN IP6 2001:db8::20\r\n"));
    let sdp = offer(
        &mut session(),
        &settings(),
        "10.0.0.1",
        4000,
        Direction::SendRecv,
    );
    assert!(sdp.contains("c=IN IP4 10.0.0.1\r\n"));
}

#[test]
fn offer_direction_attribute() {
    for d in [
        Direction::SendRecv,
        Direction::SendOnly,
        Direction::RecvOnly,
        Direction::Inactive,
    ] {
        let sdp = offer(&mut session(), &settings(), PHONE_IP, 4000, d);
        assert!(sdp.ends_with(&format!("a={d}\r\n")));
    }
}

#[test]
fn answer_baresip_offer() {
    let (sdp, n) = answer_default(BARESIP, &settings());
    assert_eq!(
        n,
        Negotiated {
            codec: Codec::Pcmu,
            payload_type: 0,
            telephone_event: Some(102),
            remote_rtp: Some("198.51.100.7:10302".parse().unwrap()),
            local_direction: Direction::SendRecv,
            remote_direction: Direction::SendRecv,
            ptime_ms: 20,
            send_inband_dtmf: false,
            comfort_noise: None,
            g729_annexb: false,
        }
    );
    assert_eq!(m_lines(&sdp), ["m=audio 16384 RTP/AVP 0 102"]);
    assert!(sdp.contains("a=rtpmap:102 telephone-event/8000\r\na=fmtp:102 0-15\r\n"));
    assert!(sdp.contains("c=IN IP4 192.0.2.20\r\n"));
    assert!(!sdp.contains("opus"));
}

#[test]
fn answer_asterisk_offer() {
    let (sdp, n) = answer_default(ASTERISK, &settings());
    assert_eq!(n.codec, Codec::Pcma, "the offerer's preference wins");
    assert_eq!(n.payload_type, 8);
    assert_eq!(n.telephone_event, Some(101));
    assert_eq!(n.remote_rtp, Some("192.0.2.10:12468".parse().unwrap()));
    assert_eq!(m_lines(&sdp), ["m=audio 16384 RTP/AVP 8 101"]);
    assert!(sdp.contains("a=rtpmap:8 PCMA/8000\r\n"));
    assert!(sdp.contains("a=sendrecv\r\n"));
}

#[test]
fn answer_asterisk_offer_with_preferred_codec_does_not_override_offerer() {
    let settings = MediaSettings {
        preferred: Some(Codec::Pcmu),
        ..settings()
    };
    let (_, n) = answer_default(ASTERISK, &settings);
    assert_eq!(n.codec, Codec::Pcma);
}

#[test]
fn answer_cisco_offer() {
    let (sdp, n) = answer_default(CISCO, &settings());
    assert_eq!(n.codec, Codec::G729);
    assert_eq!(n.payload_type, 18);
    // Media-level c= wins over session-level.
    assert_eq!(n.remote_rtp, Some("203.0.113.6:18456".parse().unwrap()));
    assert_eq!(n.ptime_ms, 30, "the far end's ptime is what we send with");
    assert_eq!(m_lines(&sdp), ["m=audio 16384 RTP/AVP 18 101"]);
    assert!(sdp.contains("a=fmtp:18 annexb=no\r\n"));
    assert!(
        sdp.contains("a=ptime:20\r\n"),
        "our ptime is what we receive"
    );

    // Without G.729 in the build, the next offered codec.
    let no_g729 = MediaSettings {
        g729: false,
        ..settings()
    };
    let (sdp, n) = answer_default(CISCO, &no_g729);
    assert_eq!(n.codec, Codec::Pcmu);
    assert_eq!(m_lines(&sdp), ["m=audio 16384 RTP/AVP 0 101"]);
}

#[test]
fn answer_dynamic_payload_and_static_without_rtpmap() {
    let offer = "v=0\r\no=x 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n\
m=audio 5000 RTP/AVP 97 0\r\na=rtpmap:97 pcma/8000/1\r\n";
    let (sdp, n) = answer_default(offer, &settings());
    assert_eq!((n.codec, n.payload_type), (Codec::Pcma, 97));
    assert!(sdp.contains("m=audio 16384 RTP/AVP 97\r\na=rtpmap:97 PCMA/8000\r\n"));

    let offer = "v=0\r\no=x 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n\
m=audio 5000 RTP/AVP 8 0\r\n";
    let (_, n) = answer_default(offer, &settings());
    assert_eq!((n.codec, n.payload_type), (Codec::Pcma, 8));
    assert_eq!(n.telephone_event, None);
    assert!(n.send_inband_dtmf);

    // A PCMU name at the wrong clock is not PCMU.
    let offer = "v=0\r\no=x 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n\
m=audio 5000 RTP/AVP 96 8\r\na=rtpmap:96 PCMU/16000\r\n";
    let (_, n) = answer_default(offer, &settings());
    assert_eq!(n.codec, Codec::Pcma);
}

#[test]
fn answer_no_common_codec_is_an_error() {
    let offer = "v=0\r\no=x 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n\
m=audio 5000 RTP/AVP 3 9 101\r\na=rtpmap:3 GSM/8000\r\na=rtpmap:9 G722/8000\r\n\
a=rtpmap:101 telephone-event/8000\r\n";
    let err = answer(
        &mut session(),
        &settings(),
        offer,
        PHONE_IP,
        4000,
        Direction::SendRecv,
    )
    .unwrap_err();
    assert!(matches!(err, SdpError::NoCommonCodec { .. }));
    assert_eq!(
        err.to_string(),
        "no common audio codec (offered formats: 3, 9, 101 telephone-event)"
    );

    // G.729 only, without G.729 in the build.
    let offer = CISCO.replace("RTP/AVP 18 0 8 101 19", "RTP/AVP 18 101");
    let no_g729 = MediaSettings::default();
    let err = answer(
        &mut session(),
        &no_g729,
        &offer,
        PHONE_IP,
        4000,
        Direction::SendRecv,
    )
    .unwrap_err();
    assert!(matches!(err, SdpError::NoCommonCodec { .. }), "{err}");
}

#[test]
fn answer_errors_for_bad_offers() {
    let mut s = session();
    let run = |s: &mut LocalSession, offer: &str| {
        answer(s, &settings(), offer, PHONE_IP, 4000, Direction::SendRecv).unwrap_err()
    };
    assert!(matches!(run(&mut s, ""), SdpError::Malformed(_)));
    assert!(matches!(run(&mut s, "hello"), SdpError::Malformed(_)));
    assert!(matches!(
        run(&mut s, "v=0\r\nm=audio notaport RTP/AVP 0\r\n"),
        SdpError::Malformed(_)
    ));
    let video_only = "v=0\r\no=x 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n\
m=video 5002 RTP/AVP 96\r\n";
    assert_eq!(run(&mut s, video_only), SdpError::NoAudio);
    let srtp = ASTERISK.replace("RTP/AVP", "RTP/SAVP");
    assert_eq!(
        run(&mut s, &srtp),
        SdpError::UnsupportedTransport("RTP/SAVP".into())
    );
    let no_c = ASTERISK.replace("c=IN IP4 192.0.2.10\r\n", "");
    assert_eq!(run(&mut s, &no_c), SdpError::MissingConnection);
    let fqdn = ASTERISK.replace("c=IN IP4 192.0.2.10", "c=IN IP4 pbx.example.com");
    assert_eq!(
        run(&mut s, &fqdn),
        SdpError::UnsupportedAddress("pbx.example.com".into())
    );
    // No failed answer consumed a version.
    assert_eq!(s.version(), 0);
}

#[test]
fn answer_rejects_video_and_other_streams_keeping_order() {
    let offer = "v=0\r\no=x 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n\
m=video 5002 RTP/AVP 96 97\r\na=rtpmap:96 H264/90000\r\na=rtpmap:97 VP8/90000\r\n\
m=audio 5000 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\n\
m=image 5004 udptl t38\r\n\
m=audio 5006 RTP/AVP 8\r\n";
    let (sdp, n) = answer_default(offer, &settings());
    assert_eq!(
        m_lines(&sdp),
        [
            "m=video 0 RTP/AVP 96 97",
            "m=audio 16384 RTP/AVP 0 101",
            "m=image 0 udptl t38",
            "m=audio 0 RTP/AVP 8",
        ]
    );
    assert_eq!(n.remote_rtp, Some("192.0.2.1:5000".parse().unwrap()));
    assert!(!sdp.contains("H264"));
}

#[test]
fn answer_takes_the_first_usable_audio_stream() {
    // First audio is SRTP (unusable), second plain RTP.
    let offer = "v=0\r\no=x 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n\
m=audio 5000 RTP/SAVP 0\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:abc\r\n\
m=audio 5002 RTP/AVP 0\r\n";
    let (sdp, n) = answer_default(offer, &settings());
    assert_eq!(
        m_lines(&sdp),
        ["m=audio 0 RTP/SAVP 0", "m=audio 16384 RTP/AVP 0"]
    );
    assert_eq!(n.remote_rtp, Some("192.0.2.1:5002".parse().unwrap()));
}

#[test]
fn hold_detection() {
    assert!(!is_hold(ASTERISK));
    assert!(!is_hold(CISCO), "no direction attribute means sendrecv");
    assert!(is_hold(&asterisk_with("a=sendonly\r\n")));
    assert!(is_hold(&asterisk_with("a=inactive\r\n")));
    assert!(!is_hold(&asterisk_with("a=recvonly\r\n")));
    // RFC 2543 hold.
    assert!(is_hold(
        &ASTERISK.replace("c=IN IP4 192.0.2.10", "c=IN IP4 0.0.0.0")
    ));
    // Session-level sendonly, LF line ends.
    let session_level = "v=0\no=x 1 2 IN IP4 192.0.2.1\ns=-\nc=IN IP4 192.0.2.1\nt=0 0\n\
a=sendonly\nm=audio 5000 RTP/AVP 0\n";
    assert!(is_hold(session_level));
    // Media level wins over session level.
    let overridden = session_level.replace("RTP/AVP 0\n", "RTP/AVP 0\na=sendrecv\n");
    assert!(!is_hold(&overridden));
    // Media-level c=0.0.0.0 under a real session-level address.
    let media_c = ASTERISK.replace("a=sendrecv\r\n", "c=IN IP4 0.0.0.0\r\na=sendrecv\r\n");
    assert!(is_hold(&media_c));
    assert!(!is_hold(""));
    assert!(!is_hold("garbage\r\n"));
}

#[test]
fn direction_answering() {
    use Direction::*;
    // (offer's direction, what we want, answer's direction)
    let cases = [
        (SendRecv, SendRecv, SendRecv),
        (SendOnly, SendRecv, RecvOnly),
        (RecvOnly, SendRecv, SendOnly),
        (Inactive, SendRecv, Inactive),
        (SendRecv, SendOnly, SendOnly),
        (SendOnly, SendOnly, Inactive),
        (RecvOnly, SendOnly, SendOnly),
        (SendRecv, Inactive, Inactive),
    ];
    for (offered, wanted, expected) in cases {
        let offer = asterisk_with(&format!("a={offered}\r\n"));
        let (sdp, n) =
            answer(&mut session(), &settings(), &offer, PHONE_IP, 4000, wanted).expect("answer");
        assert_eq!(n.local_direction, expected, "{offered} / {wanted}");
        assert_eq!(n.remote_direction, offered);
        assert!(sdp.ends_with(&format!("a={expected}\r\n")), "{sdp}");
    }
    assert_eq!(SendOnly.reversed(), RecvOnly);
    assert_eq!(Inactive.reversed(), Inactive);
}

#[test]
fn old_style_hold_answer() {
    let offer = ASTERISK.replace("c=IN IP4 192.0.2.10", "c=IN IP4 0.0.0.0");
    let (sdp, n) = answer_default(&offer, &settings());
    assert_eq!(n.remote_rtp, None);
    assert_eq!(n.remote_direction, Direction::SendOnly);
    assert_eq!(n.local_direction, Direction::RecvOnly);
    assert!(sdp.contains("a=recvonly\r\n"));
}

#[test]
fn telephone_event_rules() {
    let without_te = "v=0\r\no=x 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n\
m=audio 5000 RTP/AVP 0 8\r\n";
    // (mode, offer has te, expected te, expected in-band)
    let cases = [
        (DtmfOutOfBand::None, true, None, true),
        (DtmfOutOfBand::None, false, None, true),
        (DtmfOutOfBand::Avt, true, Some(101), false),
        (DtmfOutOfBand::Avt, false, None, true),
        (DtmfOutOfBand::AvtAlways, true, Some(101), false),
        (DtmfOutOfBand::AvtAlways, false, None, false),
    ];
    for (dtmf, offered, te, inband) in cases {
        let settings = MediaSettings {
            dtmf,
            dtmf_payload: 96, // ours doesn't matter in an answer: the offer's pt is used
            ..settings()
        };
        let offer = if offered { ASTERISK } else { without_te };
        let (sdp, n) = answer_default(offer, &settings);
        assert_eq!(n.telephone_event, te, "{dtmf:?} offered={offered}");
        assert_eq!(n.send_inband_dtmf, inband, "{dtmf:?} offered={offered}");
        assert_eq!(sdp.contains("telephone-event"), te.is_some());
        assert!(!sdp.contains(":96 "));
    }
}

#[test]
fn version_bumps_only_when_sdp_changes() {
    let mut s = session();
    let settings = settings();
    let first = offer(&mut s, &settings, PHONE_IP, 4000, Direction::SendRecv);
    assert_eq!(origin_version(&first), 0);
    let same = offer(&mut s, &settings, PHONE_IP, 4000, Direction::SendRecv);
    assert_eq!(same, first, "identical re-offer keeps the version");
    let hold = offer(&mut s, &settings, PHONE_IP, 4000, Direction::SendOnly);
    assert_eq!(origin_version(&hold), 1);
    let resume = offer(&mut s, &settings, PHONE_IP, 4000, Direction::SendRecv);
    assert_eq!(origin_version(&resume), 2);
    assert_eq!(s.version(), 2);

    // Answers share the counter: a re-INVITE answered the same way keeps it.
    let (a1, _) = answer(
        &mut s,
        &settings,
        ASTERISK,
        PHONE_IP,
        4000,
        Direction::SendRecv,
    )
    .unwrap();
    assert_eq!(origin_version(&a1), 3);
    let (a2, _) = answer(
        &mut s,
        &settings,
        ASTERISK,
        PHONE_IP,
        4000,
        Direction::SendRecv,
    )
    .unwrap();
    assert_eq!(a2, a1);
    let held = asterisk_with("a=sendonly\r\n");
    let (a3, _) = answer(
        &mut s,
        &settings,
        &held,
        PHONE_IP,
        4000,
        Direction::SendRecv,
    )
    .unwrap();
    assert_eq!(origin_version(&a3), 4);

    s.set_address("192.0.2.21");
    let (a4, _) = answer(
        &mut s,
        &settings,
        &held,
        PHONE_IP,
        4000,
        Direction::SendRecv,
    )
    .unwrap();
    assert_eq!(origin_version(&a4), 5, "a new o= address is a change");
    assert_eq!(s.session_id(), 4242);
}

#[test]
fn username_is_sanitised() {
    let mut s = LocalSession::new(7, "John Smith", "192.0.2.20");
    let sdp = offer(&mut s, &settings(), PHONE_IP, 4000, Direction::SendRecv);
    assert!(sdp.contains("o=John_Smith 7 0 IN IP4 192.0.2.20\r\n"));
    let mut s = LocalSession::new(7, "", "192.0.2.20");
    let sdp = offer(&mut s, &settings(), PHONE_IP, 4000, Direction::SendRecv);
    assert!(sdp.contains("o=- 7 0 IN IP4"));
}

#[test]
fn phone_to_phone_round_trip() {
    let caller_settings = MediaSettings {
        preferred: Some(Codec::Pcma),
        dtmf_payload: 100,
        ..settings()
    };
    let mut caller = LocalSession::new(1, "caller", "192.0.2.1");
    let mut callee = LocalSession::new(2, "callee", "192.0.2.2");
    let o = offer(
        &mut caller,
        &caller_settings,
        "192.0.2.1",
        20000,
        Direction::SendRecv,
    );
    let (a, callee_view) = answer(
        &mut callee,
        &settings(),
        &o,
        "192.0.2.2",
        30000,
        Direction::SendRecv,
    )
    .unwrap();
    let caller_view = accept_answer(&caller_settings, &o, &a).unwrap();
    assert_eq!(callee_view.codec, Codec::Pcma);
    assert_eq!(caller_view.codec, Codec::Pcma);
    assert_eq!(callee_view.telephone_event, Some(100));
    assert_eq!(caller_view.telephone_event, Some(100));
    assert_eq!(
        caller_view.remote_rtp,
        Some("192.0.2.2:30000".parse().unwrap())
    );
    assert_eq!(
        callee_view.remote_rtp,
        Some("192.0.2.1:20000".parse().unwrap())
    );

    // Caller holds: callee answers recvonly, caller sends only.
    let hold = offer(
        &mut caller,
        &caller_settings,
        "192.0.2.1",
        20000,
        Direction::SendOnly,
    );
    assert!(is_hold(&hold));
    let (a, callee_view) = answer(
        &mut callee,
        &settings(),
        &hold,
        "192.0.2.2",
        30000,
        Direction::SendRecv,
    )
    .unwrap();
    assert_eq!(callee_view.local_direction, Direction::RecvOnly);
    let caller_view = accept_answer(&caller_settings, &hold, &a).unwrap();
    assert_eq!(caller_view.local_direction, Direction::SendOnly);
    assert_eq!(caller_view.remote_direction, Direction::RecvOnly);
}

#[test]
fn accept_answer_cases() {
    let settings = settings();
    let ours = offer(
        &mut session(),
        &settings,
        PHONE_IP,
        4000,
        Direction::SendRecv,
    );
    let answer_with = |m: &str, extra: &str| {
        format!(
            "v=0\r\no=x 9 9 IN IP4 192.0.2.9\r\ns=-\r\nc=IN IP4 192.0.2.9\r\nt=0 0\r\n{m}\r\n{extra}"
        )
    };

    // A codec we never offered is skipped; the first offered one is taken.
    let a = answer_with(
        "m=audio 7000 RTP/AVP 3 8 101",
        "a=rtpmap:3 GSM/8000\r\na=rtpmap:101 telephone-event/8000\r\na=ptime:30\r\n",
    );
    let n = accept_answer(&settings, &ours, &a).unwrap();
    assert_eq!((n.codec, n.payload_type), (Codec::Pcma, 8));
    assert_eq!(n.telephone_event, Some(101));
    assert_eq!(n.ptime_ms, 30);
    assert!(!n.send_inband_dtmf);

    // Only codecs we didn't offer.
    let a = answer_with("m=audio 7000 RTP/AVP 3", "");
    assert!(matches!(
        accept_answer(&settings, &ours, &a),
        Err(SdpError::NoCommonCodec { .. })
    ));

    // Audio rejected.
    let a = answer_with("m=audio 0 RTP/AVP 0", "");
    assert_eq!(
        accept_answer(&settings, &ours, &a),
        Err(SdpError::AudioRejected)
    );

    // Without telephone-event in the answer: in-band with avt.
    let a = answer_with("m=audio 7000 RTP/AVP 0", "a=inactive\r\n");
    let n = accept_answer(&settings, &ours, &a).unwrap();
    assert_eq!(n.telephone_event, None);
    assert!(n.send_inband_dtmf);
    assert_eq!(n.local_direction, Direction::Inactive);

    // Telephone-event in the answer though we didn't offer it (dtmf none).
    let none = MediaSettings {
        dtmf: DtmfOutOfBand::None,
        ..settings.clone()
    };
    let ours_none = offer(&mut session(), &none, PHONE_IP, 4000, Direction::SendRecv);
    let a = answer_with(
        "m=audio 7000 RTP/AVP 0 101",
        "a=rtpmap:101 telephone-event/8000\r\n",
    );
    let n = accept_answer(&none, &ours_none, &a).unwrap();
    assert_eq!(n.telephone_event, None);
    assert!(n.send_inband_dtmf);

    assert!(matches!(
        accept_answer(&settings, &ours, "nonsense"),
        Err(SdpError::Malformed(_))
    ));
}

fn vad_on() -> MediaSettings {
    MediaSettings {
        comfort_noise: true,
        ..settings()
    }
}

#[test]
fn comfort_noise_is_offered_only_with_enable_vad() {
    let sdp = offer(
        &mut session(),
        &vad_on(),
        PHONE_IP,
        4000,
        Direction::SendRecv,
    );
    assert_eq!(m_lines(&sdp), ["m=audio 4000 RTP/AVP 0 8 18 13 101"]);
    assert!(sdp.contains("a=rtpmap:13 CN/8000\r\n"), "{sdp}");
    assert!(sdp.contains("a=fmtp:18 annexb=yes\r\n"), "{sdp}");

    let sdp = offer(
        &mut session(),
        &settings(),
        PHONE_IP,
        4000,
        Direction::SendRecv,
    );
    assert_eq!(m_lines(&sdp), ["m=audio 4000 RTP/AVP 0 8 18 101"]);
    assert!(!sdp.contains("CN"), "{sdp}");
    assert!(sdp.contains("a=fmtp:18 annexb=no\r\n"), "{sdp}");
}

#[test]
fn an_answer_without_cn_means_no_comfort_noise() {
    let settings = vad_on();
    let ours = offer(
        &mut session(),
        &settings,
        PHONE_IP,
        4000,
        Direction::SendRecv,
    );
    let answer_with = |m: &str, extra: &str| {
        format!(
            "v=0\r\no=x 9 9 IN IP4 192.0.2.9\r\ns=-\r\nc=IN IP4 192.0.2.9\r\nt=0 0\r\n{m}\r\n{extra}"
        )
    };
    let with_cn = answer_with("m=audio 7000 RTP/AVP 0 13", "a=rtpmap:13 CN/8000\r\n");
    let n = accept_answer(&settings, &ours, &with_cn).unwrap();
    assert_eq!(n.comfort_noise, Some(13));
    // CN as a static payload type without its rtpmap counts too.
    let bare = answer_with("m=audio 7000 RTP/AVP 8 13", "");
    assert_eq!(
        accept_answer(&settings, &ours, &bare)
            .unwrap()
            .comfort_noise,
        Some(13)
    );
    let without = answer_with(
        "m=audio 7000 RTP/AVP 0 101",
        "a=rtpmap:101 telephone-event/8000\r\n",
    );
    assert_eq!(
        accept_answer(&settings, &ours, &without)
            .unwrap()
            .comfort_noise,
        None
    );
    // CN in the answer to an offer without it (enable_vad 0) is not taken either.
    let plain = offer(
        &mut session(),
        &self::settings(),
        PHONE_IP,
        4000,
        Direction::SendRecv,
    );
    assert_eq!(
        accept_answer(&self::settings(), &plain, &with_cn)
            .unwrap()
            .comfort_noise,
        None
    );
}

#[test]
fn answering_an_offer_with_cn_follows_enable_vad_and_its_payload_type() {
    // The Cisco gateway offers CN on dynamic payload type 19.
    let (sdp, n) = answer_default(CISCO, &vad_on());
    assert_eq!(n.comfort_noise, Some(19));
    assert_eq!(m_lines(&sdp), ["m=audio 16384 RTP/AVP 18 19 101"]);
    assert!(sdp.contains("a=rtpmap:19 CN/8000\r\n"), "{sdp}");
    // It said annexb=no: so do we, and annex B is off.
    assert!(!n.g729_annexb);
    assert!(sdp.contains("a=fmtp:18 annexb=no\r\n"), "{sdp}");

    let (sdp, n) = answer_default(CISCO, &settings());
    assert_eq!(n.comfort_noise, None);
    assert!(!sdp.contains("CN/8000"), "{sdp}");

    // An offer without CN gets none, whatever enable_vad says.
    let (sdp, n) = answer_default(ASTERISK, &vad_on());
    assert_eq!(n.comfort_noise, None);
    assert!(!sdp.contains("CN/8000"), "{sdp}");
}

#[test]
fn g729_annex_b_needs_enable_vad_and_no_refusal() {
    let g729_offer = |fmtp: &str| {
        format!(
            "v=0\r\no=x 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n\
m=audio 5000 RTP/AVP 18 13\r\na=rtpmap:18 G729/8000\r\n{fmtp}"
        )
    };
    // Left out means yes (RFC 4856).
    let (sdp, n) = answer_default(&g729_offer(""), &vad_on());
    assert!(n.g729_annexb);
    assert!(sdp.contains("a=fmtp:18 annexb=yes\r\n"), "{sdp}");
    let (_, n) = answer_default(&g729_offer("a=fmtp:18 annexb=yes\r\n"), &vad_on());
    assert!(n.g729_annexb);
    let (_, n) = answer_default(&g729_offer("a=fmtp:18 AnnexB=No\r\n"), &vad_on());
    assert!(!n.g729_annexb);
    let (sdp, n) = answer_default(&g729_offer(""), &settings());
    assert!(!n.g729_annexb);
    assert!(sdp.contains("a=fmtp:18 annexb=no\r\n"), "{sdp}");

    // Our offer with enable_vad says yes; the answer decides.
    let settings = MediaSettings {
        preferred: Some(Codec::G729),
        ..vad_on()
    };
    let ours = offer(
        &mut session(),
        &settings,
        PHONE_IP,
        4000,
        Direction::SendRecv,
    );
    let answer = |fmtp: &str| {
        format!(
            "v=0\r\no=x 9 9 IN IP4 192.0.2.9\r\ns=-\r\nc=IN IP4 192.0.2.9\r\nt=0 0\r\n\
m=audio 7000 RTP/AVP 18\r\n{fmtp}"
        )
    };
    assert!(
        accept_answer(&settings, &ours, &answer(""))
            .unwrap()
            .g729_annexb
    );
    assert!(
        !accept_answer(&settings, &ours, &answer("a=fmtp:18 annexb=no\r\n"))
            .unwrap()
            .g729_annexb
    );
}

fn check_no_panic(text: &str) {
    let mut s = session();
    let settings = settings();
    let _ = is_hold(text);
    if let Ok((sdp, _)) = answer(&mut s, &settings, text, PHONE_IP, 4000, Direction::SendRecv) {
        // Whatever we write must parse again.
        assert!(parse(&sdp).is_ok(), "{sdp}");
        assert!(sdp.starts_with("v=0\r\n"));
    }
    let ours = offer(&mut s, &settings, PHONE_IP, 4000, Direction::SendRecv);
    let _ = accept_answer(&settings, &ours, text);
    let _ = accept_answer(&settings, text, text);
}

/// Lines that look like SDP, to get past the parser's first checks.
fn sdp_line() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("v=0".to_string()),
        Just("o=- 1 1 IN IP4 192.0.2.1".to_string()),
        Just("s=-".to_string()),
        Just("t=0 0".to_string()),
        "c=IN IP[46] [0-9a-f.:/]{0,20}",
        "m=(audio|video|image) [0-9]{1,6}(/[0-9])? (RTP/AVP|RTP/SAVP|udptl) [0-9 ]{0,12}",
        "a=(rtpmap|fmtp|ptime):[0-9]{0,4} ?[A-Za-z0-9/-]{0,20}",
        "a=(sendrecv|sendonly|recvonly|inactive|foo)",
        "[a-z]=[ -~]{0,30}",
        "[ -~]{0,10}",
    ]
}

proptest! {
    #[test]
    fn random_strings_never_panic(text in any::<String>()) {
        check_no_panic(&text);
    }

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        check_no_panic(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn sdp_like_line_soup_never_panics(
        lines in proptest::collection::vec(sdp_line(), 0..16),
        crlf in any::<bool>(),
    ) {
        let mut text = String::from("v=0\r\n");
        text.push_str(&lines.join(if crlf { "\r\n" } else { "\n" }));
        check_no_panic(&text);
    }

    #[test]
    fn mutated_real_offers_never_panic(
        which in 0usize..3,
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<char>()), 1..8),
    ) {
        let mut text: Vec<char> = [BARESIP, ASTERISK, CISCO][which].chars().collect();
        for (at, c) in edits {
            let i = at.index(text.len());
            text[i] = c;
        }
        check_no_panic(&text.into_iter().collect::<String>());
    }
}
