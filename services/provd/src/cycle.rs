//! One provisioning cycle as a sans-IO state machine.
//!
//! The cycle asks for files one at a time ([`Cycle::poll_fetch`]) and is told what came back
//! ([`Cycle::handle_fetch`]); the caller does the fetching (TFTP in provd, a directory in
//! `phonectl lint`), so both evaluate a tree with exactly the same logic:
//!
//! 1. `SIPDefault.cnf` from the first server that answers (found or not found both count as
//!    an answer; a timeout moves on to the next server).
//! 2. `SIP<MAC>.cnf` from `tftp_cfg_dir` as it stands after step 1.
//! 3. If the files name a `dyn_tftp_addr`, steps 1-2 again from that server (at most
//!    [`MAX_DYNAMIC_HOPS`] times, never back to a server already used, so two servers that
//!    name each other cannot bounce the phone); if it does not answer, the previous server's
//!    files stand.
//! 4. The dial plan `<dial_template>.xml` from the root of the server used.
//!
//! The result is the effective [`Config`] (defaults < flash < SIPDefault.cnf < SIP<MAC>.cnf)
//! with every diagnostic, or, when no server answered, the configuration from flash.

use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};

use deskphone_config::cnf::parse;
use deskphone_config::value::tftp_path;
use deskphone_config::{Config, Diagnostic, FileRole, FlashConfig, Mac, Severity};

use crate::files::check_dialplan;

/// How many times `dyn_tftp_addr` may move the phone to another server in one cycle.
pub const MAX_DYNAMIC_HOPS: usize = 2;

pub const DEFAULT_FILE: &str = "SIPDefault.cnf";

/// What a fetch gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fetched {
    Found(Vec<u8>),
    /// The server answered that the file does not exist.
    NotFound,
    /// The server did not answer or the transfer failed.
    Failed(String),
}

/// A file the cycle wants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchRequest {
    pub server: SocketAddr,
    pub path: String,
}

/// A file of the cycle as the lint and the status report it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileRecord {
    pub name: String,
    pub found: bool,
}

/// The result of a cycle.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub config: Config,
    pub diagnostics: Vec<Diagnostic>,
    /// The server the files came from; `None` when no server answered (flash only).
    pub server: Option<SocketAddr>,
    pub files: Vec<FileRecord>,
    /// The files used, to keep as last good copies.
    pub contents: Vec<(String, Vec<u8>)>,
    /// Lines for the Status Messages screen beyond the diagnostics.
    pub notes: Vec<String>,
}

impl Outcome {
    pub fn dialplan(&self) -> Option<&[u8]> {
        self.contents
            .iter()
            .find(|(n, _)| n.ends_with(".xml"))
            .map(|(_, d)| d.as_slice())
    }
    pub fn has_errors(&self) -> bool {
        self.diagnostics
            .iter()
            .any(|d| d.severity == Severity::Error)
    }
}

/// The files of one server.
#[derive(Debug, Clone, Default)]
struct ServerFiles {
    server: Option<SocketAddr>,
    default_file: Option<Fetched>,
    phone_path: String,
    phone_file: Option<Fetched>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Stage {
    Default,
    Phone,
    Dialplan { path: String },
    Done,
}

pub struct Cycle {
    mac: Mac,
    flash: FlashConfig,
    follow_dynamic: bool,
    servers: VecDeque<SocketAddr>,
    visited: Vec<IpAddr>,
    hops: usize,
    stage: Stage,
    current: ServerFiles,
    /// The last complete server's files, kept while a dynamic server is tried.
    settled: Option<ServerFiles>,
    dialplan: Option<(String, Fetched)>,
    notes: Vec<String>,
}

impl Cycle {
    /// `servers`: candidates in order (see [`crate::servers::tftp_candidates`]).
    /// `follow_dynamic`: whether `dyn_tftp_addr` is followed (the lint cannot reach other
    /// servers and reports it instead).
    pub fn new(
        mac: Mac,
        flash: FlashConfig,
        servers: Vec<SocketAddr>,
        follow_dynamic: bool,
    ) -> Cycle {
        let mut c = Cycle {
            mac,
            flash,
            follow_dynamic,
            servers: servers.into(),
            visited: Vec::new(),
            hops: 0,
            stage: Stage::Default,
            current: ServerFiles::default(),
            settled: None,
            dialplan: None,
            notes: Vec::new(),
        };
        c.next_server();
        c
    }

    fn next_server(&mut self) {
        match self.servers.pop_front() {
            Some(s) => {
                self.current = ServerFiles {
                    server: Some(s),
                    ..Default::default()
                };
                self.stage = Stage::Default;
            }
            None => self.stage = Stage::Done,
        }
    }

    /// The next file to fetch, or `None` once the cycle is complete.
    pub fn poll_fetch(&self) -> Option<FetchRequest> {
        let server = self.current.server?;
        let path = match &self.stage {
            Stage::Default => DEFAULT_FILE.to_string(),
            Stage::Phone => self.current.phone_path.clone(),
            Stage::Dialplan { path } => path.clone(),
            Stage::Done => return None,
        };
        Some(FetchRequest { server, path })
    }

    pub fn handle_fetch(&mut self, fetched: Fetched) {
        let Some(server) = self.current.server else {
            return;
        };
        match self.stage.clone() {
            Stage::Default => {
                if let Fetched::Failed(why) = &fetched {
                    self.notes.push(format!(
                        "TFTP server {server} did not deliver {DEFAULT_FILE}: {why}"
                    ));
                    if self.settled.is_some() {
                        // A dynamic server that does not answer: keep what we had.
                        self.notes.push(format!(
                            "keeping the configuration from {}",
                            self.settled_server_label()
                        ));
                        self.current = self.settled.take().expect("checked");
                        self.go_to_dialplan();
                    } else {
                        self.next_server();
                    }
                    return;
                }
                self.current.default_file = Some(fetched);
                let (config, _) = self.evaluate(&self.current);
                self.current.phone_path =
                    tftp_path(config.text("tftp_cfg_dir"), &self.mac.config_file_name());
                self.stage = Stage::Phone;
            }
            Stage::Phone => {
                if let Fetched::Failed(why) = &fetched {
                    self.notes.push(format!(
                        "TFTP server {server} did not deliver {}: {why}",
                        self.current.phone_path
                    ));
                }
                self.current.phone_file = Some(fetched);
                self.settle();
            }
            Stage::Dialplan { path } => {
                self.dialplan = Some((path, fetched));
                self.stage = Stage::Done;
            }
            Stage::Done => {}
        }
    }

    fn settled_server_label(&self) -> String {
        self.settled
            .as_ref()
            .and_then(|s| s.server)
            .map(|s| s.to_string())
            .unwrap_or_default()
    }

    /// Both files of the current server are in: follow `dyn_tftp_addr` or go on.
    fn settle(&mut self) {
        let server = self.current.server.expect("a server is current");
        self.visited.push(server.ip());
        let (config, _) = self.evaluate(&self.current);
        let dynamic = config
            .text("dyn_tftp_addr")
            .and_then(|s| s.parse::<IpAddr>().ok());
        if let Some(ip) = dynamic.filter(|ip| *ip != server.ip()) {
            if !self.follow_dynamic {
                self.notes.push(format!(
                    "dyn_tftp_addr {ip}: the phone fetches its files again from there"
                ));
            } else if self.visited.contains(&ip) {
                self.notes.push(format!(
                    "dyn_tftp_addr {ip} was already used in this cycle; not going back"
                ));
            } else if self.hops >= MAX_DYNAMIC_HOPS {
                self.notes.push(format!("dyn_tftp_addr {ip} ignored: already moved {MAX_DYNAMIC_HOPS} times in this cycle"));
            } else {
                self.hops += 1;
                // The guide gives only an address; the port stays that of the server that named it.
                let next = SocketAddr::new(ip, server.port());
                self.notes.push(format!(
                    "dyn_tftp_addr: fetching the configuration again from {next}"
                ));
                self.settled = Some(std::mem::take(&mut self.current));
                self.current = ServerFiles {
                    server: Some(next),
                    ..Default::default()
                };
                self.stage = Stage::Default;
                return;
            }
        }
        self.settled = None;
        self.go_to_dialplan();
    }

    fn go_to_dialplan(&mut self) {
        let (config, _) = self.evaluate(&self.current);
        match config.text("dial_template") {
            Some(t) => {
                self.stage = Stage::Dialplan {
                    path: format!("{t}.xml"),
                }
            }
            None => self.stage = Stage::Done,
        }
    }

    /// defaults < flash < SIPDefault.cnf < SIP<MAC>.cnf, with every diagnostic.
    fn evaluate(&self, files: &ServerFiles) -> (Config, Vec<Diagnostic>) {
        let mut config = Config::new(self.mac);
        let mut diags = config.apply_flash(&self.flash);
        let phone_name = if files.phone_path.is_empty() {
            self.mac.config_file_name()
        } else {
            files.phone_path.clone()
        };
        for (name, role, fetched) in [
            (
                DEFAULT_FILE.to_string(),
                FileRole::Default,
                &files.default_file,
            ),
            (
                phone_name.clone(),
                FileRole::PhoneSpecific,
                &files.phone_file,
            ),
        ] {
            if let Some(Fetched::Found(data)) = fetched {
                let parsed = parse(&name, data);
                diags.extend(parsed.diagnostics.iter().cloned());
                diags.extend(config.apply_file(&name, role, &parsed));
            }
        }
        diags.extend(config.check_consistency(DEFAULT_FILE, &phone_name));
        (config, diags)
    }

    /// The effective configuration and everything said about it.
    pub fn finish(self) -> Outcome {
        let mut notes = self.notes.clone();
        let files = &self.current;
        let Some(server) = files.server.filter(|_| files.default_file.is_some()) else {
            // No server answered: run on what flash holds.
            let mut config = Config::new(self.mac);
            let mut diagnostics = config.apply_flash(&self.flash);
            diagnostics
                .extend(config.check_consistency(DEFAULT_FILE, &self.mac.config_file_name()));
            notes.push(
                "no TFTP server answered; using the configuration stored in flash".to_string(),
            );
            return Outcome {
                config,
                diagnostics,
                server: None,
                files: Vec::new(),
                contents: Vec::new(),
                notes,
            };
        };
        let (config, mut diagnostics) = self.evaluate(files);
        let mut records = Vec::new();
        let mut contents = Vec::new();
        let mut record = |name: &str, fetched: &Option<Fetched>| {
            let found = matches!(fetched, Some(Fetched::Found(_)));
            records.push(FileRecord {
                name: name.to_string(),
                found,
            });
            if let Some(Fetched::Found(d)) = fetched {
                contents.push((name.to_string(), d.clone()));
            }
        };
        record(DEFAULT_FILE, &files.default_file);
        record(&files.phone_path, &files.phone_file);
        match (&files.default_file, &files.phone_file) {
            (Some(Fetched::NotFound), Some(Fetched::NotFound) | None) => diagnostics.push(Diagnostic::error(
                DEFAULT_FILE,
                0,
                format!("neither {DEFAULT_FILE} nor {} is on the server; the phone runs on flash and defaults", files.phone_path),
            )),
            (_, Some(Fetched::NotFound)) => {
                notes.push(format!("{} not found; only {DEFAULT_FILE} applies", files.phone_path))
            }
            _ => {}
        }
        if let Some((path, fetched)) = &self.dialplan {
            record(path, &Some(fetched.clone()));
            match fetched {
                Fetched::Found(d) => diagnostics.extend(check_dialplan(path, d).1),
                Fetched::NotFound => diagnostics.push(Diagnostic::warning(
                    path,
                    0,
                    "the dial plan named by dial_template is not on the server; numbers are sent after the inter-digit timeout or #",
                )),
                Fetched::Failed(why) => notes.push(format!("dial plan {path} not fetched: {why}")),
            }
        }
        Outcome {
            config,
            diagnostics,
            server: Some(server),
            files: records,
            contents,
            notes,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// A set of servers, each a map of path -> contents; unknown servers time out.
    struct Net(HashMap<SocketAddr, HashMap<String, Vec<u8>>>);

    impl Net {
        fn run(&self, cycle: &mut Cycle) -> Vec<FetchRequest> {
            let mut asked = Vec::new();
            while let Some(req) = cycle.poll_fetch() {
                asked.push(req.clone());
                let fetched = match self.0.get(&req.server) {
                    None => Fetched::Failed("timeout".into()),
                    Some(files) => match files.get(&req.path) {
                        Some(d) => Fetched::Found(d.clone()),
                        None => Fetched::NotFound,
                    },
                };
                cycle.handle_fetch(fetched);
                assert!(asked.len() < 50, "the cycle must end");
            }
            asked
        }
    }

    fn a(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }
    fn mac() -> Mac {
        "00503EFFD842".parse().unwrap()
    }
    fn server(files: &[(&str, &str)]) -> HashMap<String, Vec<u8>> {
        files
            .iter()
            .map(|(p, d)| (p.to_string(), d.as_bytes().to_vec()))
            .collect()
    }

    #[test]
    fn a_full_cycle_from_one_server() {
        let net = Net(HashMap::from([(
            a("10.0.0.1:69"),
            server(&[
                (
                    "SIPDefault.cnf",
                    "proxy1_address: 10.0.0.5\ntftp_cfg_dir: phones\nimage_version: X\n",
                ),
                ("phones/SIP00503EFFD842.cnf", "line1_name: 43\n"),
                (
                    "dialplan.xml",
                    "<DIALTEMPLATE><TEMPLATE MATCH=\"1...\" Timeout=\"0\"/></DIALTEMPLATE>",
                ),
            ]),
        )]));
        let mut c = Cycle::new(mac(), FlashConfig::default(), vec![a("10.0.0.1:69")], true);
        let asked = net.run(&mut c);
        let paths: Vec<&str> = asked.iter().map(|r| r.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "SIPDefault.cnf",
                "phones/SIP00503EFFD842.cnf",
                "dialplan.xml"
            ]
        );
        let o = c.finish();
        assert_eq!(o.server, Some(a("10.0.0.1:69")));
        assert_eq!(o.config.text("line1_name"), Some("43"));
        assert!(o.files.iter().all(|f| f.found));
        assert!(o.dialplan().is_some());
        assert!(o.diagnostics.is_empty(), "{:?}", o.diagnostics);
    }

    #[test]
    fn a_silent_server_is_skipped_and_none_answering_means_flash() {
        let net = Net(HashMap::from([(
            a("10.0.0.2:69"),
            server(&[("SIPDefault.cnf", "proxy1_address: p\n")]),
        )]));
        let mut c = Cycle::new(
            mac(),
            FlashConfig::default(),
            vec![a("10.0.0.1:69"), a("10.0.0.2:69")],
            true,
        );
        net.run(&mut c);
        let o = c.finish();
        assert_eq!(o.server, Some(a("10.0.0.2:69")));
        assert!(o.notes.iter().any(|n| n.contains("10.0.0.1:69")));

        let mut flash = FlashConfig::default();
        flash.values.insert(
            "messages_uri".into(),
            deskphone_config::Value::Text("8000".into()),
        );
        let mut c = Cycle::new(mac(), flash, vec![a("10.0.0.1:69")], true);
        Net(HashMap::new()).run(&mut c);
        let o = c.finish();
        assert_eq!(o.server, None);
        assert_eq!(o.config.text("messages_uri"), Some("8000"));
        assert!(o.notes.iter().any(|n| n.contains("flash")));
    }

    #[test]
    fn dynamic_tftp_is_followed_but_never_ping_pongs() {
        let net = Net(HashMap::from([
            (
                a("10.0.0.1:69"),
                server(&[(
                    "SIPDefault.cnf",
                    "dyn_tftp_addr: 10.0.0.2\nmessages_uri: one\n",
                )]),
            ),
            (
                a("10.0.0.2:69"),
                server(&[(
                    "SIPDefault.cnf",
                    "dyn_tftp_addr: 10.0.0.1\nmessages_uri: two\n",
                )]),
            ),
        ]));
        let mut c = Cycle::new(mac(), FlashConfig::default(), vec![a("10.0.0.1:69")], true);
        let asked = net.run(&mut c);
        let servers: Vec<String> = asked.iter().map(|r| r.server.to_string()).collect();
        assert_eq!(
            servers.iter().filter(|s| *s == "10.0.0.2:69").count(),
            3,
            "{servers:?}"
        );
        let o = c.finish();
        assert_eq!(o.server, Some(a("10.0.0.2:69")));
        assert_eq!(o.config.text("messages_uri"), Some("two"));
        assert!(o.notes.iter().any(|n| n.contains("already used")));
    }

    #[test]
    fn a_chain_of_dynamic_servers_is_bounded() {
        let mut servers = HashMap::new();
        for i in 1..=5 {
            servers.insert(
                a(&format!("10.0.0.{i}:69")),
                server(&[(
                    "SIPDefault.cnf",
                    &format!("dyn_tftp_addr: 10.0.0.{}\n", i + 1),
                )]),
            );
        }
        let mut c = Cycle::new(mac(), FlashConfig::default(), vec![a("10.0.0.1:69")], true);
        Net(servers).run(&mut c);
        let o = c.finish();
        assert_eq!(
            o.server,
            Some(a(&format!("10.0.0.{}:69", 1 + MAX_DYNAMIC_HOPS)))
        );
    }

    #[test]
    fn an_unreachable_dynamic_server_keeps_the_first_servers_files() {
        let net = Net(HashMap::from([(
            a("10.0.0.1:69"),
            server(&[
                (
                    "SIPDefault.cnf",
                    "dyn_tftp_addr: 10.9.9.9\nmessages_uri: one\n",
                ),
                ("dialplan.xml", "<DIALTEMPLATE/>"),
            ]),
        )]));
        let mut c = Cycle::new(mac(), FlashConfig::default(), vec![a("10.0.0.1:69")], true);
        let asked = net.run(&mut c);
        assert_eq!(asked.last().unwrap().path, "dialplan.xml");
        assert_eq!(asked.last().unwrap().server, a("10.0.0.1:69"));
        let o = c.finish();
        assert_eq!(o.server, Some(a("10.0.0.1:69")));
        assert_eq!(o.config.text("messages_uri"), Some("one"));
    }

    #[test]
    fn an_empty_server_is_an_error_and_a_missing_phone_file_a_note() {
        let net = Net(HashMap::from([(a("10.0.0.1:69"), server(&[]))]));
        let mut c = Cycle::new(mac(), FlashConfig::default(), vec![a("10.0.0.1:69")], true);
        net.run(&mut c);
        assert!(c.finish().has_errors());

        let net = Net(HashMap::from([(
            a("10.0.0.1:69"),
            server(&[("SIPDefault.cnf", "image_version: X\n")]),
        )]));
        let mut c = Cycle::new(mac(), FlashConfig::default(), vec![a("10.0.0.1:69")], true);
        net.run(&mut c);
        let o = c.finish();
        assert!(!o.has_errors());
        assert_eq!(
            o.files[1],
            FileRecord {
                name: "SIP00503EFFD842.cnf".into(),
                found: false
            }
        );
        assert!(o.notes.iter().any(|n| n.contains("not found")));
        assert!(o.diagnostics.iter().any(|d| d.file == "dialplan.xml"));
    }
}
