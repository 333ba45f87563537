//! The SIP settings of the effective configuration (deskphone-config), with the guide's
//! defaults and fallbacks, as plain values the state machines take.

use std::time::Duration;

use deskphone_config::Config;

/// Retransmission settings (RFC 3261 section 17 with the guide's counts).
///
/// The guide gives *counts* (`sip_invite_retx`, default 6; `sip_retx`, default 10: "the most
/// times a request is retransmitted"), where RFC 3261 stops retransmitting when timer B or F
/// (64·T1) fires. Here the count decides, and a transaction that got no answer gives up one
/// T1 (the round-trip estimate) after its last retransmission. With the defaults this is the
/// RFC's behaviour to the millisecond: INVITE is sent at 0, 0.5, 1.5, 3.5, 7.5, 15.5 and
/// 31.5 s and times out at 32 s; other requests are sent at 0, 0.5, 1.5, 3.5, 7.5, 11.5, ...,
/// 31.5 s (T2 = 4 s caps the interval) and time out at 32 s. That is 7 and 11 transmissions,
/// which is what the comments "Default 7" and "Default 11" in the guide's sample file count.
/// An administrator who lowers a count gets a faster failure, one who raises it more
/// attempts, as on the Cisco phones. The same `sip_retx` count limits the
/// retransmissions of a final response to INVITE (timer G), since the guide counts every
/// message other than an INVITE request; timer H then fires one T1 after the last one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timers {
    /// `timer_t1`: first retransmission interval, round-trip estimate.
    pub t1: Duration,
    /// `timer_t2`: longest retransmission interval for everything but INVITE requests.
    pub t2: Duration,
    /// T4: how long the network may hold a message (RFC 3261: 5 s; not in the guide).
    pub t4: Duration,
    /// `sip_invite_retx`: retransmissions of an INVITE request.
    pub invite_retx: u32,
    /// `sip_retx`: retransmissions of any other request and of final responses to INVITE.
    pub retx: u32,
}

impl Default for Timers {
    fn default() -> Timers {
        Timers {
            t1: Duration::from_millis(500),
            t2: Duration::from_millis(4000),
            t4: Duration::from_secs(5),
            invite_retx: 6,
            retx: 10,
        }
    }
}

impl Timers {
    pub fn from_config(c: &Config) -> Timers {
        let d = Timers::default();
        let ms = |name, default: Duration| {
            c.int(name)
                .filter(|v| *v > 0)
                .map(|v| Duration::from_millis(v as u64))
                .unwrap_or(default)
        };
        let count = |name, default| {
            c.int(name)
                .filter(|v| *v >= 0)
                .map(|v| v.min(i64::from(u32::MAX)) as u32)
                .unwrap_or(default)
        };
        let t1 = ms("timer_t1", d.t1);
        let t2 = ms("timer_t2", d.t2).max(t1);
        Timers {
            t1,
            t2,
            t4: d.t4,
            invite_retx: count("sip_invite_retx", d.invite_retx),
            retx: count("sip_retx", d.retx),
        }
        .sanitized()
    }

    /// The same timers within sane bounds (T1 1 ms-60 s, T2 T1-10 min, T4 1 ms-60 s,
    /// counts at most 1000), so no deadline can overflow whatever the configuration says.
    pub fn sanitized(self) -> Timers {
        let ms = Duration::from_millis;
        let t1 = self.t1.clamp(ms(1), ms(60_000));
        Timers {
            t1,
            t2: self.t2.clamp(t1, ms(600_000).max(t1)),
            t4: self.t4.clamp(ms(1), ms(60_000)),
            invite_retx: self.invite_retx.min(1000),
            retx: self.retx.min(1000),
        }
    }

    /// The longest wait between two INVITE retransmissions (RFC 3261 sets none; one hour
    /// keeps deadlines finite with any count).
    pub fn invite_cap(&self) -> Duration {
        Duration::from_secs(3600)
    }

    /// 64·T1: timers J, L and M (how long a finished transaction absorbs retransmissions).
    pub fn t1x64(&self) -> Duration {
        self.t1.saturating_mul(64)
    }

    /// Timer D: how long an INVITE client transaction absorbs retransmitted final responses
    /// (RFC 3261: at least 32 s over UDP).
    pub fn timer_d(&self) -> Duration {
        Duration::from_secs(32)
    }

    /// How long a non-INVITE client transaction may run before it gives up unanswered:
    /// every retransmission plus one T1.
    pub fn non_invite_timeout(&self) -> Duration {
        let t = self.sanitized();
        let mut total = Duration::ZERO;
        let mut interval = t.t1;
        for _ in 0..t.retx {
            total = total.saturating_add(interval);
            interval = interval.saturating_mul(2).min(t.t2);
        }
        total.saturating_add(t.t1)
    }
}

/// `user_info`: the `user=` parameter of the REGISTER URIs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UserInfo {
    #[default]
    None,
    Phone,
    Ip,
}

/// Phone-wide SIP settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub timers: Timers,
    /// `proxy_register`: register the lines at start.
    pub register: bool,
    /// `timer_register_expires`, seconds, sent in Expires of REGISTER.
    pub register_expires: u32,
    /// `timer_invite_expires`, seconds, sent in Expires of INVITE.
    pub invite_expires: u32,
    /// `nat_address` when `nat_enable` is 1 and the address is valid: advertised in Contact and
    /// Via instead of the phone's own address.
    pub nat_address: Option<String>,
    /// `nat_received_processing` 1: the `received=` address of a REGISTER's 200 replaces the
    /// Contact address (the old binding is removed).
    pub nat_received_processing: bool,
    /// `voip_control_port`: the UDP port of SIP.
    pub control_port: u16,
    pub user_info: UserInfo,
    /// User-Agent header value.
    pub user_agent: String,
    /// Expires asked for in message-waiting SUBSCRIBEs, seconds (not a parameter of the
    /// guide, whose phones only take unsolicited NOTIFYs; 3600 like a registration).
    pub mwi_expires: u32,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            timers: Timers::default(),
            register: false,
            register_expires: 3600,
            invite_expires: 180,
            nat_address: None,
            nat_received_processing: false,
            control_port: 5060,
            user_info: UserInfo::None,
            user_agent: format!("deskphone/{}", env!("CARGO_PKG_VERSION")),
            mwi_expires: 3600,
        }
    }
}

impl Settings {
    pub fn from_config(c: &Config) -> Settings {
        let d = Settings::default();
        let positive = |name, default: u32| {
            c.int(name)
                .filter(|v| *v > 0)
                .map(|v| v.min(i64::from(u32::MAX)) as u32)
                .unwrap_or(default)
        };
        Settings {
            timers: Timers::from_config(c),
            register: c.int("proxy_register") == Some(1),
            register_expires: positive("timer_register_expires", d.register_expires),
            invite_expires: positive("timer_invite_expires", d.invite_expires),
            nat_address: (c.int("nat_enable") == Some(1))
                .then(|| c.text("nat_address").map(str::to_string))
                .flatten()
                .filter(|a| !a.is_empty()),
            nat_received_processing: c.int("nat_received_processing") == Some(1),
            control_port: c
                .int("voip_control_port")
                .and_then(|p| u16::try_from(p).ok())
                .unwrap_or(d.control_port),
            user_info: match c.text("user_info") {
                Some("phone") => UserInfo::Phone,
                Some("ip") => UserInfo::Ip,
                _ => UserInfo::None,
            },
            user_agent: d.user_agent,
            mwi_expires: d.mwi_expires,
        }
    }
}

/// What a line registers with: `lineN_name` at `proxyN_address:proxyN_port`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineSettings {
    pub line: u8,
    /// `lineN_name`: the user part of the address of record and of Contact.
    pub name: String,
    /// `lineN_authname`, else `line1_authname`.
    pub authname: Option<String>,
    /// `lineN_password`, else `line1_password`.
    pub password: Option<String>,
    /// `lineN_displayname`, shown to called parties.
    pub display_name: Option<String>,
    /// `proxyN_address`, else `proxy1_address`: the domain in the Request-URI, To and From.
    pub proxy: String,
    /// `proxyN_port` (with `proxy1_port` when the address fell back to proxy 1).
    pub proxy_port: u16,
}

impl LineSettings {
    /// The settings of line 1-6, `None` if the line has no name or no proxy.
    pub fn from_config(c: &Config, line: u8) -> Option<LineSettings> {
        let text = |name: String| c.text(&name).filter(|v| !v.is_empty()).map(str::to_string);
        let name = text(format!("line{line}_name"))?;
        let (proxy, port_of) = match text(format!("proxy{line}_address")) {
            Some(p) => (p, line),
            None => (text("proxy1_address".into())?, 1),
        };
        let proxy_port = c
            .int(&format!("proxy{port_of}_port"))
            .and_then(|p| u16::try_from(p).ok())
            .filter(|p| *p > 0)
            .unwrap_or(5060);
        Some(LineSettings {
            line,
            name,
            authname: text(format!("line{line}_authname"))
                .or_else(|| text("line1_authname".into())),
            password: text(format!("line{line}_password"))
                .or_else(|| text("line1_password".into())),
            display_name: text(format!("line{line}_displayname")),
            proxy,
            proxy_port,
        })
    }
}
