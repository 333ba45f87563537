//! The media daemon's socket: sessions ordered by sipd, audio paths and tones ordered by the
//! UI, and the per-call RTP figures `phonectl status --json` shows.

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use crate::Hello;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "request", rename_all = "snake_case")]
pub enum Request {
    Hello(Hello),
    /// The sessions, the audio path and the devices' state.
    Status,
    /// Receive [`Event`]s from now on.
    Subscribe,
    /// Start a call's media or change it (a re-INVITE, hold, the answer to an early offer):
    /// the whole order each time, so a repeated order is harmless.
    Session(SessionOrder),
    /// The call ended: close its sockets (sending RTCP BYE).
    Stop {
        call: u32,
    },
    /// Mix these calls with the local party in a three-way conference; an empty list ends
    /// the mixing.
    Conference {
        calls: Vec<u32>,
    },
    /// Send a DTMF digit on a call: RFC 4733 events and/or in-band tones as the session says.
    Dtmf {
        call: u32,
        digit: char,
    },
    /// Play a tone of the tone plan on the active audio path (`None`: stop it).
    Tone {
        tone: Option<Tone>,
    },
    /// Ring the speaker with a pattern (`None`: stop ringing).
    Ring {
        pattern: Option<RingPattern>,
    },
    /// Which audio path the calls and tones use.
    Path {
        path: AudioPath,
    },
    /// Mute the microphone (the far ends hear silence).
    Mute {
        muted: bool,
    },
    /// The volume of an audio path, 0 (silent) to 10; 5 is nominal, each step 3 dB. The
    /// ringer follows the speaker's.
    Volume {
        path: AudioPath,
        level: u8,
    },
}

/// What sipd negotiated for one call: everything mediad needs to send and receive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionOrder {
    pub call: u32,
    /// The RTP port (even; RTCP on the next one), from `start_media_port`..`end_media_port`.
    pub local_port: u16,
    /// Where to send RTP; `None` when the far end gave `c=0.0.0.0` (old-style hold).
    pub remote_rtp: Option<SocketAddr>,
    /// `PCMU`, `PCMA` or `G729`.
    pub codec: String,
    /// The payload type to send the codec with (the far end's number).
    pub payload_type: u8,
    /// The far end's telephone-event payload type when both sides use RFC 4733.
    pub telephone_event: Option<u8>,
    pub send: bool,
    pub receive: bool,
    pub ptime_ms: u32,
    /// Play DTMF digits in-band too (`dtmf_inband`, and no telephone-event in use).
    pub inband_dtmf: bool,
    /// `dtmf_db_level`, 1-5 (3 is nominal).
    pub dtmf_level: u8,
    /// `tos_media`, 0-5: the IP precedence of the RTP and RTCP packets.
    pub tos: u8,
    /// `enable_vad`: silence suppression with comfort noise.
    pub vad: bool,
    /// Early media (183): the far end plays ringback or an announcement.
    pub early: bool,
    /// The comfort-noise payload type (RFC 3389 `CN`) both sides agreed: with `vad`,
    /// silences are sent as SID packets of this type instead of speech. `None`: the far
    /// end did not take CN, and everything is sent.
    #[serde(default)]
    pub comfort_noise: Option<u8>,
    /// G.729 with annex B negotiated: with `vad`, the codec's own VAD and SID frames.
    #[serde(default)]
    pub g729_annexb: bool,
    /// `nat_enable`: the phone is behind a NAT, whose port forwards may rewrite the far
    /// end's address. RTP is taken from the far end's address (SDP `c=`, any port) and,
    /// until that address is heard from, from the first other source that sends RTP;
    /// without it, only from the far end's address.
    #[serde(default)]
    pub behind_nat: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AudioPath {
    Handset,
    Speaker,
    Headset,
}

/// The tones of the tone plan the UI can ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tone {
    Dial,
    SecondaryDial,
    /// Dial tone interrupted: voice messages are waiting.
    StutterDial,
    Ringback,
    Busy,
    Reorder,
    CallWaiting,
    Confirmation,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RingPattern {
    /// 2 s on, 4 s off.
    Standard,
    /// Two short rings.
    Double,
    /// Short, short, long.
    ShortShortLong,
}

/// The volume of each audio path, 0-10.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Volumes {
    pub handset: u8,
    pub speaker: u8,
    pub headset: u8,
}

/// The nominal volume: no gain.
pub const NOMINAL_VOLUME: u8 = 5;

impl Default for Volumes {
    fn default() -> Self {
        Volumes {
            handset: NOMINAL_VOLUME,
            speaker: NOMINAL_VOLUME,
            headset: NOMINAL_VOLUME,
        }
    }
}

impl Volumes {
    pub fn get(&self, path: AudioPath) -> u8 {
        match path {
            AudioPath::Handset => self.handset,
            AudioPath::Speaker => self.speaker,
            AudioPath::Headset => self.headset,
        }
    }

    pub fn set(&mut self, path: AudioPath, level: u8) {
        let level = level.min(10);
        match path {
            AudioPath::Handset => self.handset = level,
            AudioPath::Speaker => self.speaker = level,
            AudioPath::Headset => self.headset = level,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "reply", rename_all = "snake_case")]
pub enum Reply {
    Hello { version: u32, service: String },
    Status(Box<Status>),
    Ok,
    Error { message: String },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// A DTMF digit arrived from the far end (RFC 4733 or detected in-band).
    Dtmf { call: u32, digit: char },
    /// Something for the Status Messages screen (a missing or busy sound device, ...).
    StatusMessage { text: String },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Status {
    pub mediad: String,
    pub protocol: u32,
    pub path: AudioPath,
    pub muted: bool,
    /// Volume of the handset, speaker and headset, 0-10 (5 nominal).
    #[serde(default)]
    pub volumes: Volumes,
    /// What is wrong with the sound devices, `null` when they work.
    pub device_error: Option<String>,
    /// The codecs this build of mediad speaks (`G729` only with its feature): sipd offers
    /// no other.
    #[serde(default)]
    pub codecs: Vec<String>,
    pub sessions: Vec<SessionStatus>,
}

/// One call's media: its `"rtp"` object in `phonectl status --json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionStatus {
    pub call: u32,
    pub rtp: RtpStatus,
}

/// The documented shape of a call's `"rtp"` object; fields are only ever added.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RtpStatus {
    pub codec: String,
    /// RTP packets sent and received (telephone-event included).
    pub sent: u64,
    pub received: u64,
    /// Packets lost on the way here (RFC 3550 cumulative loss; never negative).
    pub lost: u64,
    /// Interarrival jitter (RFC 3550), milliseconds.
    pub jitter_ms: f64,
    pub local_port: u16,
    /// Where RTP goes, `null` while on hold with `c=0.0.0.0`.
    #[serde(default)]
    pub remote: Option<String>,
    /// Frames played by concealment (lost or late).
    #[serde(default)]
    pub concealed: u64,
    /// Frames the jitter buffer dropped or inserted to follow the network's delay and the
    /// far end's clock.
    #[serde(default)]
    pub adjusted: u64,
    /// The jitter buffer's playout delay now, milliseconds.
    #[serde(default)]
    pub playout_delay_ms: f64,
    /// Round-trip time from RTCP, when the far end sends reports.
    #[serde(default)]
    pub rtt_ms: Option<f64>,
    /// DTMF digits received on this call so far (the last 32), RFC 4733 or in-band.
    #[serde(default)]
    pub dtmf_received: String,
    /// RTP and RTCP packets dropped because they came from another address than the
    /// far end's (SDP `c=`): injected or stray media.
    #[serde(default)]
    pub foreign_dropped: u64,
}

/// The server side of this protocol, for mediad's socket.
pub struct Server;

impl crate::server::ServerProtocol for Server {
    const NAME: &'static str = "mediad";
    type Request = Request;
    type Reply = Reply;
    type Event = Event;
    fn as_hello(request: &Request) -> Option<&Hello> {
        match request {
            Request::Hello(h) => Some(h),
            _ => None,
        }
    }
    fn hello_reply() -> Reply {
        Reply::Hello {
            version: crate::PROTOCOL_VERSION,
            service: "mediad".into(),
        }
    }
    fn error(message: String) -> Reply {
        Reply::Error { message }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rtp_object_has_the_documented_keys() {
        let rtp = RtpStatus {
            codec: "PCMU".into(),
            sent: 5,
            received: 4,
            lost: 1,
            jitter_ms: 2.5,
            local_port: 16384,
            remote: None,
            concealed: 0,
            adjusted: 0,
            playout_delay_ms: 20.0,
            rtt_ms: None,
            dtmf_received: String::new(),
            foreign_dropped: 0,
        };
        let v = serde_json::to_value(&rtp).unwrap();
        for key in [
            "codec",
            "sent",
            "received",
            "lost",
            "jitter_ms",
            "local_port",
        ] {
            assert!(v.get(key).is_some(), "{key} missing from {v}");
        }
        assert_eq!(v["codec"], "PCMU");
        assert_eq!(v["jitter_ms"], 2.5);
    }

    #[test]
    fn orders_read_back_as_sent() {
        let order = Request::Session(SessionOrder {
            call: 3,
            local_port: 16384,
            remote_rtp: Some("127.0.0.1:4000".parse().unwrap()),
            codec: "PCMA".into(),
            payload_type: 8,
            telephone_event: Some(101),
            send: true,
            receive: true,
            ptime_ms: 20,
            inband_dtmf: false,
            dtmf_level: 3,
            tos: 5,
            vad: false,
            early: false,
            comfort_noise: Some(13),
            g729_annexb: false,
            behind_nat: true,
        });
        let json = serde_json::to_string(&order).unwrap();
        assert!(json.contains(r#""request":"session""#), "{json}");
        assert_eq!(serde_json::from_str::<Request>(&json).unwrap(), order);
    }

    #[test]
    fn an_older_peer_without_the_newer_fields_still_parses() {
        let old_order = r#"{"request":"session","call":1,"local_port":16384,
            "remote_rtp":null,"codec":"PCMU","payload_type":0,"telephone_event":null,
            "send":true,"receive":true,"ptime_ms":20,"inband_dtmf":false,"dtmf_level":3,
            "tos":5,"vad":true,"early":false}"#;
        match serde_json::from_str::<Request>(old_order).unwrap() {
            Request::Session(o) => {
                assert_eq!(
                    (o.comfort_noise, o.g729_annexb, o.behind_nat),
                    (None, false, false)
                )
            }
            other => panic!("{other:?}"),
        }
        let old_rtp = r#"{"codec":"PCMU","sent":1,"received":2,"lost":0,"jitter_ms":0.5,
            "local_port":16384}"#;
        let rtp: RtpStatus = serde_json::from_str(old_rtp).unwrap();
        assert_eq!(rtp.foreign_dropped, 0);
    }
}
