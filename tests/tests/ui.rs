//! The phone's face under deskphone-sim: real tasks walked with `phonectl key` as a person
//! would press the keys, checked on `phonectl status --json`'s screen, in provd's flash,
//! and against real peers (Kamailio, baresip) for calls made and taken on the keypad.

use std::time::Duration;

use deskphone_e2e::baresip::{Baresip, BaresipOptions};
use deskphone_e2e::sip::Kamailio;
use deskphone_e2e::{serve_tree, wait_for, Phone, SimPhone};
use serde_json::Value;

const MAC: &str = "00503EAA0042";
const WAIT: Duration = Duration::from_secs(20);

fn keys(p: &Phone, keys: &str) {
    let mut args = vec!["key"];
    args.extend(keys.split_whitespace());
    p.ok(&args);
}

fn screen(p: &Phone) -> Value {
    p.status()["screen"].clone()
}

/// Waits until the screen's name is `name` and `pred` holds for it.
fn wait_screen(p: &Phone, name: &str, pred: impl Fn(&Value) -> bool) -> Value {
    wait_for(&format!("the {name} screen"), WAIT, || {
        let s = screen(p);
        (s["name"] == name && pred(&s)).then_some(s)
    })
}

fn lines(s: &Value) -> Vec<String> {
    s["lines"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|l| l.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

fn has_line(s: &Value, text: &str) -> bool {
    lines(s).iter().any(|l| l.contains(text))
}

#[test]
fn unlock_disable_dhcp_set_a_static_address_and_find_it_in_flash() {
    let (_root, server) = serve_tree(&[(
        "SIPDefault.cnf",
        "proxy1_address: 10.0.0.5\nphone_password: \"s3cret\"\n",
    )]);
    let addr = server.addr.to_string();
    let mut p = Phone::new(MAC, &["--tftp", &addr]);
    p.start();
    wait_screen(&p, "idle", |_| true);

    // Settings > 8 Unlock Config, the password by multi-tap: s=7777 3=3333 c=222 r=777
    // e=33 t=8 (no two letters in a row on the same key, so no pause is needed).
    keys(&p, "settings 8");
    wait_screen(&p, "settings", |s| has_line(s, "Password"));
    keys(&p, "7 7 7 7 3 3 3 3 2 2 2 7 7 7 3 3 8 soft1");
    wait_screen(&p, "settings", |s| has_line(s, "Lock Config"));

    // 3 Network Configuration: DHCP Enabled No, then IP Address and Subnet Mask.
    keys(&p, "3 soft2");
    let s = wait_screen(&p, "settings", |s| has_line(s, "DHCP Enabled: No"));
    let at = |what: &str| lines(&s).iter().position(|l| l.contains(what)).unwrap();
    let (ip, mask) = (at("IP Address"), at("Subnet Mask"));
    for _ in 0..ip {
        keys(&p, "down");
    }
    keys(&p, "soft1 1 0 star 1 star 2 star 3 soft1");
    for _ in ip..mask {
        keys(&p, "down");
    }
    keys(&p, "soft1 2 5 5 star 2 5 5 star 2 5 5 star 0 soft1");
    let s = screen(&p);
    assert!(has_line(&s, "IP Address: 10.1.2.3"), "{s}");
    assert_eq!(s["softkeys"][2], "Save");
    keys(&p, "soft3");
    wait_for("the settings in flash", WAIT, || {
        (p.param("ip_address") == (Value::from("10.1.2.3"), "flash".into())).then_some(())
    });
    assert_eq!(p.param("dhcp_enabled"), (Value::from(0), "flash".into()));
    assert_eq!(
        p.param("subnet_mask"),
        (Value::from("255.255.255.0"), "flash".into())
    );

    // Leaving Settings relocks: a change now needs the password again.
    keys(&p, "soft4");
    wait_screen(&p, "idle", |_| true);
    keys(&p, "settings 3");
    let s = wait_screen(&p, "settings", |s| s["title"] == "Network Configuration");
    assert_eq!(s["softkeys"][0], "", "locked: no Yes/No on DHCP Enabled");
    assert!(has_line(&s, "Locked"), "{s}");
}

#[test]
fn a_bad_configuration_line_is_read_on_status_messages() {
    let (_root, server) = serve_tree(&[(
        "SIPDefault.cnf",
        "proxy1_address: 10.0.0.5\nvoip_control_port: 80\n",
    )]);
    let addr = server.addr.to_string();
    let mut p = Phone::new(MAC, &["--tftp", &addr]);
    p.start();
    keys(&p, "settings 7 1");
    let s = wait_screen(&p, "settings", |s| s["title"] == "Status Messages");
    // Each message wrapped to the screen's width.
    assert!(
        lines(&s)
            .join(" ")
            .contains("SIPDefault.cnf:2: warning: voip_control_port: 80 is out of range"),
        "{s}"
    );
    // A screenshot is a PNG of the screen's size.
    let file = p.state.join("shot.png");
    p.ok(&["screenshot", file.to_str().unwrap()]);
    let png = std::fs::read(&file).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    assert_eq!(u32::from_be_bytes(png[16..20].try_into().unwrap()), 320);
    assert_eq!(u32::from_be_bytes(png[20..24].try_into().unwrap()), 240);
    let bad = p.phonectl(&["key", "settings", "hook"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("unknown key \"hook\""));
}

#[test]
fn calls_placed_and_answered_on_the_keypad_with_baresip() {
    let kam = Kamailio::start(&[("1001", "secret1001"), ("2000", "secret-b")]);
    let bob = Baresip::start(BaresipOptions {
        password: Some("secret-b".into()),
        registrar: Some(kam.addr),
        auto_answer: true,
        ..BaresipOptions::new("2000")
    });
    let default = format!(
        "proxy1_address: \"127.0.0.1\"\nproxy1_port: \"{}\"\nproxy_register: \"1\"\n\
         line1_authname: \"1001\"\nline1_password: \"secret1001\"\n\
         start_media_port: \"20200\"\nend_media_port: \"20300\"\n",
        kam.addr.port()
    );
    let specific = format!("SIP{MAC}.cnf");
    let phone = SimPhone::start(
        MAC,
        &[
            ("SIPDefault.cnf", &default),
            (
                &specific,
                "line1_name: \"1001\"\nphone_label: \"Front desk\"\n",
            ),
        ],
    );
    wait_for("line 1 to register", WAIT, || {
        (phone.status()["lines"][0]["registered"] == true).then_some(())
    });
    wait_screen(&phone, "idle", |s| s["title"] == "Front desk");

    // Handset up, dial tone, 2000, Dial: bob answers.
    keys(&phone, "offhook");
    wait_screen(&phone, "dialing", |_| true);
    assert_eq!(phone.status()["ui"]["audio_path"], "handset");
    keys(&phone, "2 0 0 0 soft1");
    bob.wait_event("CALL_ESTABLISHED", WAIT);
    let s = wait_screen(&phone, "connected", |_| true);
    assert_eq!(
        s["softkeys"],
        serde_json::json!(["Hold", "EndCall", "Transfer", "Confrn"])
    );
    // Hold from the soft key, resume, then the handset goes down: the call ends.
    keys(&phone, "soft1");
    wait_screen(&phone, "held", |_| true);
    keys(&phone, "soft1");
    wait_screen(&phone, "connected", |_| true);
    keys(&phone, "onhook");
    bob.wait_event("CALL_CLOSED", WAIT);
    wait_screen(&phone, "idle", |_| true);

    // bob calls: the phone rings and shows him; the speaker key answers.
    bob.dial(&format!("sip:1001@127.0.0.1:{}", kam.addr.port()));
    let s = wait_screen(&phone, "ringing", |_| true);
    assert!(lines(&s)[0].contains("2000"), "{s}");
    assert_eq!(s["softkeys"][0], "Answer");
    assert_eq!(
        phone.status()["ui"]["lamps"]["message_waiting"],
        "blink 150/150"
    );
    keys(&phone, "speaker");
    bob.wait_event("CALL_ESTABLISHED", WAIT);
    wait_screen(&phone, "connected", |_| true);
    assert_eq!(phone.status()["ui"]["audio_path"], "speaker");
    keys(&phone, "soft2");
    bob.wait_event("CALL_CLOSED", WAIT);
    wait_screen(&phone, "idle", |_| true);

    // Both calls are in the Directories: the one placed, the one received.
    keys(&phone, "directories 3");
    let s = wait_screen(&phone, "directories", |s| s["title"] == "Placed Calls");
    assert!(has_line(&s, "2000"), "{s}");
    keys(&phone, "soft4 2");
    let s = wait_screen(&phone, "directories", |s| s["title"] == "Received Calls");
    assert!(has_line(&s, "2000"), "{s}");

    // The call lists are kept across a reboot.
    let boots = phone.boots();
    phone.ok(&["reboot"]);
    wait_for("the reboot", Duration::from_secs(30), || {
        (phone.boots() > boots).then_some(())
    });
    phone.wait_provisioned();
    wait_screen(&phone, "idle", |_| true);
    keys(&phone, "directories 3");
    let s = wait_screen(&phone, "directories", |s| s["title"] == "Placed Calls");
    assert!(has_line(&s, "2000"), "after the reboot: {s}");
}

/// A real HTTP server (Python's http.server) serving `files` on 127.0.0.1.
struct HttpServer {
    child: std::process::Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl HttpServer {
    fn start(files: &[(&str, &str)]) -> HttpServer {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in files {
            std::fs::write(dir.path().join(name), text).unwrap();
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = std::process::Command::new("python3")
            .args([
                "-m",
                "http.server",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
            ])
            .current_dir(dir.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("python3 -m http.server");
        wait_for("the HTTP server", WAIT, || {
            std::net::TcpStream::connect(("127.0.0.1", port))
                .ok()
                .map(|_| ())
        });
        HttpServer {
            child,
            port,
            _dir: dir,
        }
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn services_and_the_external_directory_come_from_http() {
    let http = HttpServer::start(&[
        (
            "menu.xml",
            "<CiscoIPPhoneMenu><Title>Office</Title><MenuItem><Name>Weather</Name>\
             <URL>weather.xml</URL></MenuItem><MenuItem><Name>Canteen</Name>\
             <URL>http://127.0.0.1:1/none.xml</URL></MenuItem></CiscoIPPhoneMenu>",
        ),
        (
            "weather.xml",
            "<CiscoIPPhoneText><Title>Weather</Title><Text>Sunny and mild</Text></CiscoIPPhoneText>",
        ),
        (
            "directory.xml",
            "<CiscoIPPhoneDirectory><Title>Staff</Title><DirectoryEntry><Name>Ada</Name>\
             <Telephone>2001</Telephone></DirectoryEntry></CiscoIPPhoneDirectory>",
        ),
    ]);
    let base = format!("http://127.0.0.1:{}", http.port);
    let (_root, server) = serve_tree(&[(
        "SIPDefault.cnf",
        &format!(
            "proxy1_address: 10.0.0.5\nphone_label: Reception\n\
             services_url: \"{base}/menu.xml\"\ndirectory_url: \"{base}/directory.xml\"\n"
        ),
    )]);
    let addr = server.addr.to_string();
    let mut p = Phone::new(MAC, &["--tftp", &addr]);
    p.start();
    // The UI has the provisioned configuration once the label shows.
    wait_screen(&p, "idle", |s| s["title"] == "Reception");
    keys(&p, "services");
    let s = wait_screen(&p, "services", |s| s["title"] == "Office");
    assert_eq!(lines(&s)[..2], ["1 Weather", "2 Canteen"]);
    // A relative link, followed.
    keys(&p, "soft1");
    let s = wait_screen(&p, "services", |s| s["title"] == "Weather");
    assert!(has_line(&s, "Sunny and mild"), "{s}");
    // Exit goes back a page; a server that is not there is a message, not a crash.
    keys(&p, "soft4 2");
    let s = wait_screen(&p, "services", |s| has_line(s, "cannot reach"));
    assert_eq!(s["title"], "Office");
    keys(&p, "soft4");
    wait_screen(&p, "idle", |_| true);
    // Directories: the fourth item is the external directory.
    keys(&p, "directories 4");
    let s = wait_screen(&p, "directories", |s| s["title"] == "Staff");
    assert!(has_line(&s, "Ada: 2001"), "{s}");
}
