//! SIP peers for the end-to-end tests: Kamailio as a registrar with digest authentication and
//! an in-memory location table, queried with `kamcmd`, that also routes calls between the
//! users registered there; SIPp scenarios.

use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::{free_udp_port, wait_for, Guard};

/// Debian's module directory of the `kamailio` package.
const KAMAILIO_MODULES: &str = "/usr/lib/x86_64-linux-gnu/kamailio/modules";

/// A Kamailio registrar on 127.0.0.1 and a free port. Users and their passwords come from
/// the test; the realm is the To domain (the phone's `proxy1_address`). No database:
/// `usrloc` keeps the location table in memory (`db_mode` 0) and `pv_www_authenticate`
/// checks the digest against the password from the configuration.
///
/// It is also a proxy for calls between the users registered there (the baresip tests): an
/// initial INVITE (or MESSAGE) to a registered user is relayed, without authentication, to
/// its contact with the proxy record-routed; requests in the dialog follow the Route set;
/// CANCEL and the ACK of a failed INVITE go with their transaction. Any other request, or an
/// INVITE to a user without a binding, gets `404 Not Here`.
pub struct Kamailio {
    pub addr: SocketAddr,
    pub dir: tempfile::TempDir,
    _child: Guard,
}

/// One binding of the location table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contact {
    pub aor: String,
    pub address: String,
    pub expires: Option<u64>,
}

/// A REGISTER as Kamailio logged it (see the configuration's `xlog`).
#[derive(Debug, Clone, PartialEq)]
pub struct LoggedRequest {
    /// Seconds (Unix time, microsecond resolution).
    pub time: f64,
    pub user: String,
    /// The digest username, `<null>` without credentials.
    pub auth: String,
    pub expires: String,
    /// `challenged`, `registered`, `refused`.
    pub outcome: String,
}

impl Kamailio {
    /// Starts Kamailio (`apt-get install kamailio`) with `users` as (name, password).
    pub fn start(users: &[(&str, &str)]) -> Kamailio {
        Kamailio::start_with_voicemail(users, None)
    }

    /// [`Kamailio::start`] on the address `ip` (one of the host's, e.g. of a
    /// [`private_network`](crate::private_network)) rather than 127.0.0.1.
    pub fn start_on(ip: &str, users: &[(&str, &str)]) -> Kamailio {
        Kamailio::start_full(ip, users, None)
    }

    /// [`Kamailio::start`], relaying every SUBSCRIBE that starts a subscription to
    /// `voicemail` (as a PBX hands message-summary subscriptions to its voice-mail server),
    /// record-routed: the NOTIFYs come back through Kamailio.
    pub fn start_with_voicemail(users: &[(&str, &str)], voicemail: Option<SocketAddr>) -> Kamailio {
        Kamailio::start_full("127.0.0.1", users, voicemail)
    }

    fn start_full(ip: &str, users: &[(&str, &str)], voicemail: Option<SocketAddr>) -> Kamailio {
        let dir = tempfile::tempdir().expect("tempdir");
        let port = free_udp_port(ip);
        let addr: SocketAddr = format!("{ip}:{port}").parse().expect("address");
        let cfg = dir.path().join("kamailio.cfg");
        std::fs::write(&cfg, config(addr, &ctl_path(dir.path()), users, voicemail))
            .expect("write cfg");
        let log = std::fs::File::create(dir.path().join("kamailio.log")).expect("log");
        let child = Command::new("/usr/sbin/kamailio")
            .arg("-f")
            .arg(&cfg)
            // Foreground, log to stderr; small memory pools; pid and runtime files in the
            // test's directory.
            .args(["-DD", "-E", "-m", "32", "-M", "4"])
            .arg("-Y")
            .arg(dir.path())
            .arg("-P")
            .arg(dir.path().join("kamailio.pid"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("starting /usr/sbin/kamailio (apt-get install kamailio)");
        let k = Kamailio {
            addr,
            dir,
            _child: Guard(child),
        };
        wait_for("Kamailio to answer kamcmd", Duration::from_secs(20), || {
            k.kamcmd(&["core.version"]).ok()
        });
        wait_for("Kamailio to listen", Duration::from_secs(10), || {
            UdpSocket::bind(addr).is_err().then_some(())
        });
        k
    }

    /// `kamcmd` on the control socket; stdout or the error output.
    pub fn kamcmd(&self, args: &[&str]) -> Result<String, String> {
        let out = Command::new("/usr/sbin/kamcmd")
            .arg("-s")
            .arg(format!("unix:{}", ctl_path(self.dir.path()).display()))
            .args(args)
            .output()
            .map_err(|e| format!("running kamcmd: {e}"))?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }

    /// The location table (`kamcmd ul.dump`).
    pub fn contacts(&self) -> Vec<Contact> {
        let dump = self.kamcmd(&["ul.dump"]).expect("kamcmd ul.dump");
        let mut out = Vec::new();
        let mut aor = String::new();
        for line in dump.lines().map(str::trim) {
            if let Some(a) = line.strip_prefix("AoR:") {
                aor = a.trim().to_string();
            } else if let Some(a) = line.strip_prefix("Address:") {
                out.push(Contact {
                    aor: aor.clone(),
                    address: a.trim().to_string(),
                    expires: None,
                });
            } else if let Some(e) = line.strip_prefix("Expires:") {
                if let Some(c) = out.last_mut() {
                    c.expires = e.trim().parse().ok();
                }
            }
        }
        out
    }

    /// The AoRs with at least one binding.
    pub fn registered_users(&self) -> Vec<String> {
        let mut users: Vec<String> = self.contacts().into_iter().map(|c| c.aor).collect();
        users.sort();
        users.dedup();
        users
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("kamailio.log")).unwrap_or_default()
    }

    /// Every REGISTER Kamailio handled, in order.
    pub fn registers(&self) -> Vec<LoggedRequest> {
        self.log_text()
            .lines()
            .filter_map(|l| l.split_once("deskphone-test REGISTER ").map(|(_, r)| r))
            .filter_map(|r| {
                let field = |k: &str| {
                    r.split(' ')
                        .find_map(|f| f.strip_prefix(k))
                        .unwrap_or_default()
                        .to_string()
                };
                Some(LoggedRequest {
                    time: field("time=").parse().ok()?,
                    user: field("user="),
                    auth: field("auth="),
                    expires: field("expires="),
                    outcome: field("outcome="),
                })
            })
            .collect()
    }
}

fn ctl_path(dir: &Path) -> PathBuf {
    dir.join("kamailio_ctl")
}

fn config(
    addr: SocketAddr,
    ctl: &Path,
    users: &[(&str, &str)],
    voicemail: Option<SocketAddr>,
) -> String {
    let voicemail = match voicemail {
        Some(vm) => format!(
            "    if (is_method(\"SUBSCRIBE\")) {{\n        record_route();\n        $du = \"sip:{vm}\";\n        route(RELAY);\n    }}\n"
        ),
        None => String::new(),
    };
    let mut cases = String::new();
    for (user, password) in users {
        cases.push_str(&format!(
            "            case \"{user}\": $var(pw) = \"{password}\"; break;\n"
        ));
    }
    format!(
        r#"#!KAMAILIO
# Written by the deskphone end-to-end tests: a registrar with digest authentication and an
# in-memory location table, and a proxy routing calls to the users registered there.
debug=2
log_stderror=yes
children=1
auto_aliases=no
listen=udp:{addr}
mpath="{KAMAILIO_MODULES}/"
loadmodule "kex.so"
loadmodule "corex.so"
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "pv.so"
loadmodule "maxfwd.so"
loadmodule "textops.so"
loadmodule "siputils.so"
loadmodule "xlog.so"
loadmodule "usrloc.so"
loadmodule "registrar.so"
loadmodule "auth.so"
loadmodule "ctl.so"
loadmodule "rr.so"
modparam("usrloc", "db_mode", 0)
modparam("ctl", "binrpc", "unix:{ctl}")

request_route {{
    if (!mf_process_maxfwd_header("10")) {{
        sl_send_reply("483", "Too Many Hops");
        exit;
    }}
    if (is_method("REGISTER")) {{
        $var(pw) = "";
        switch ($au) {{
{cases}        }}
        if (!is_present_hf("Authorization") || !pv_www_authenticate("$td", "$var(pw)", "0")) {{
            $var(outcome) = "challenged";
            route(LOG);
            www_challenge("$td", "1");
            exit;
        }}
        if (!save("location")) {{
            $var(outcome) = "refused";
            route(LOG);
            sl_reply_error();
            exit;
        }}
        $var(outcome) = "registered";
        route(LOG);
        exit;
    }}
    # Calls between registered users (the baresip tests), without authentication: a test
    # registrar on loopback. In-dialog requests follow the Route set this proxy recorded.
    if (has_totag()) {{
        if (loose_route()) {{
            route(RELAY);
        }}
        if (is_method("ACK")) {{
            # ACK to a negative reply: absorbed by the INVITE transaction; else dropped.
            if (t_check_trans()) {{
                t_relay();
            }}
            exit;
        }}
        sl_send_reply("404", "Not Here");
        exit;
    }}
    if (is_method("CANCEL")) {{
        if (t_check_trans()) {{
            route(RELAY);
        }}
        exit;
    }}
{voicemail}    # Only new calls (and instant messages) are routed to the location table; any other
    # request keeps its plain 404.
    if (!is_method("INVITE|MESSAGE") || !lookup("location")) {{
        sl_send_reply("404", "Not Here");
        exit;
    }}
    if (is_method("INVITE")) {{
        record_route();
    }}
    route(RELAY);
}}

route[RELAY] {{
    if (!t_relay()) {{
        sl_reply_error();
    }}
    exit;
}}

route[LOG] {{
    xlog("L_NOTICE", "deskphone-test REGISTER time=$TV(Sn) user=$tU auth=$au expires=$hdr(Expires) outcome=$var(outcome)\n");
}}
"#,
        ctl = ctl.display()
    )
}

/// A SIPp process (`apt-get install sip-tester`) running a scenario file, logging every
/// message with its time (`-trace_msg`).
pub struct Sipp {
    pub addr: SocketAddr,
    pub messages: PathBuf,
    child: Option<Guard>,
    _dir: tempfile::TempDir,
}

/// A message SIPp logged.
#[derive(Debug, Clone)]
pub struct SippMessage {
    /// Seconds since midnight (SIPp logs wall-clock time).
    pub time: f64,
    pub received: bool,
    pub text: String,
}

impl Sipp {
    /// Runs `scenario` (XML) once (`-m 1`) on 127.0.0.1 and a free port.
    pub fn start(scenario: &str) -> Sipp {
        Self::start_on("127.0.0.1", scenario, &[])
    }

    /// Runs `scenario` once on `ip` and a free port, with more SIPp options (a UAC scenario
    /// ends them with the remote `HOST:PORT`).
    pub fn start_on(ip: &str, scenario: &str, extra: &[&str]) -> Sipp {
        let dir = tempfile::tempdir().expect("tempdir");
        let port = free_udp_port(ip);
        let addr: SocketAddr = format!("{ip}:{port}").parse().expect("address");
        let file = dir.path().join("scenario.xml");
        std::fs::write(&file, scenario).expect("write scenario");
        let messages = dir.path().join("messages.log");
        let child = Command::new("sipp")
            .arg("-sf")
            .arg(&file)
            .args(["-i", ip, "-bind_local", "-p", &port.to_string(), "-m", "1"])
            .arg("-nostdin")
            .args(["-trace_msg", "-message_file"])
            .arg(&messages)
            .args(extra)
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting sipp (apt-get install sip-tester)");
        let s = Sipp {
            addr,
            messages,
            child: Some(Guard(child)),
            _dir: dir,
        };
        wait_for("SIPp to listen", Duration::from_secs(10), || {
            UdpSocket::bind(addr).is_err().then_some(())
        });
        s
    }

    /// Waits for SIPp to finish its scenario; its exit status, or `None` if it is still
    /// running after `timeout` (it is then stopped).
    pub fn try_wait(&mut self, timeout: Duration) -> Option<i32> {
        let guard = self.child.as_mut()?;
        let end = std::time::Instant::now() + timeout;
        while std::time::Instant::now() < end {
            if let Ok(Some(status)) = guard.0.try_wait() {
                self.child = None;
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.child = None;
        None
    }

    /// Waits for SIPp to finish its scenario; its exit status (0: every call succeeded).
    pub fn wait(&mut self, timeout: Duration) -> Option<i32> {
        let guard = self.child.as_mut()?;
        let status = wait_for("SIPp to end", timeout, || guard.0.try_wait().ok().flatten());
        self.child = None;
        status.code()
    }

    /// The messages logged so far.
    pub fn messages(&self) -> Vec<SippMessage> {
        let text = std::fs::read_to_string(&self.messages).unwrap_or_default();
        let mut out: Vec<SippMessage> = Vec::new();
        for block in text.split("----------------------------------------------- ") {
            let mut lines = block.splitn(3, '\n');
            let (Some(stamp), Some(kind), Some(body)) = (lines.next(), lines.next(), lines.next())
            else {
                continue;
            };
            // "2026-11-24 13:58:09.640032"
            let Some(clock) = stamp.split_whitespace().nth(1) else {
                continue;
            };
            let mut parts = clock.split(':');
            let (Some(h), Some(m), Some(s)) = (parts.next(), parts.next(), parts.next()) else {
                continue;
            };
            let (Ok(h), Ok(m), Ok(s)) = (h.parse::<f64>(), m.parse::<f64>(), s.parse::<f64>())
            else {
                continue;
            };
            out.push(SippMessage {
                time: h * 3600.0 + m * 60.0 + s,
                received: kind.contains("received"),
                text: body.trim_start().to_string(),
            });
        }
        out
    }
}

/// A PBX sending check-sync, expecting `status` back.
pub fn check_sync_scenario(status: u16) -> String {
    format!(
        r#"<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="check-sync">
  <send retrans="500">
    <![CDATA[
NOTIFY sip:1001@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:pbx@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
To: <sip:1001@[remote_ip]:[remote_port]>
Call-ID: [call_id]
CSeq: 1 NOTIFY
Max-Forwards: 70
Event: check-sync
Content-Length: 0

    ]]>
  </send>
  <recv response="{status}" />
</scenario>
"#
    )
}
