//! The phone (deskphone-sim running provd) provisioned from a real tftpd-hpa on loopback.

use std::time::Duration;

use deskphone_e2e::{
    processes_mentioning, serve_tree, wait_for, write_tree, Guard, Phone, TftpServer,
};
use serde_json::Value;

const MAC: &str = "00503EFFD842";
const PHONE_FILE: &str = "SIP00503EFFD842.cnf";

/// A phone that gives up on a silent server quickly.
fn phone(server: &TftpServer, extra: &[&str]) -> Phone {
    let addr = server.addr.to_string();
    let mut args = vec![
        "--tftp",
        addr.as_str(),
        "--tftp-timeout-ms",
        "200",
        "--tftp-retries",
        "2",
    ];
    args.extend_from_slice(extra);
    Phone::new(MAC, &args)
}

fn files(status: &Value) -> Vec<(String, bool)> {
    status["provisioning"]["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["name"].as_str().unwrap().to_string(),
                f["found"].as_bool().unwrap(),
            )
        })
        .collect()
}

fn messages(status: &Value) -> String {
    status["status_messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["text"].as_str().unwrap().to_string() + "\n")
        .collect()
}

#[test]
fn provisions_from_tftpd_with_precedence_and_sources() {
    let (_root, server) = serve_tree(&[
            ("SIPDefault.cnf", "image_version: deskphone-test\nproxy1_address: 10.0.0.5\ntimer_t1: 600\nmessages_uri: 8000\nphone_label: Everyone\n"),
            (PHONE_FILE, "line1_name: 43\nphone_label: \"Front desk\"\ntimer_t1: 700\n"),
            ("dialplan.xml", "<DIALTEMPLATE><TEMPLATE MATCH=\"1...\" Timeout=\"0\"/></DIALTEMPLATE>"),
        ]);
    let mut p = phone(&server, &["--firmware-version", "deskphone-test"]);
    p.start();
    let s = p.status();
    assert_eq!(s["provisioning"]["state"], "provisioned");
    assert_eq!(s["mac"], MAC);
    assert_eq!(
        files(&s),
        vec![
            ("SIPDefault.cnf".into(), true),
            (PHONE_FILE.into(), true),
            ("dialplan.xml".into(), true)
        ]
    );
    assert_eq!(s["firmware"]["state"], "up_to_date");
    assert_eq!(s["firmware"]["running"], "deskphone-test");
    assert_eq!(
        p.param("timer_t1"),
        (Value::from(700), format!("{PHONE_FILE}:3"))
    );
    assert_eq!(
        p.param("messages_uri"),
        (Value::from("8000"), "SIPDefault.cnf:4".into())
    );
    assert_eq!(p.param("phone_label").0, "Front desk");
    assert_eq!(p.param("timer_t2"), (Value::from(4000), "default".into()));
    // The default file setting a phone-specific parameter is a status message naming file and line.
    assert!(
        messages(&s).contains("SIPDefault.cnf:5"),
        "{}",
        messages(&s)
    );
}

#[test]
fn bad_lines_become_status_messages_and_never_stop_the_phone() {
    let (root, server) = serve_tree(&[(
        "SIPDefault.cnf",
        "proxy1_address: 10.0.0.5\nvoip_control_port: 80\nthis is not a line\n\x00",
    )]);
    let mut p = phone(&server, &[]);
    p.start();
    let s = p.status();
    // A file with NUL bytes is refused whole (error), and the phone still runs on defaults.
    assert!(
        messages(&s).contains("SIPDefault.cnf: error: not a text file"),
        "{}",
        messages(&s)
    );
    assert_eq!(
        p.param("voip_control_port"),
        (Value::from(5060), "default".into())
    );

    write_tree(
        root.path(),
        &[(
            "SIPDefault.cnf",
            "proxy1_address: 10.0.0.5\nvoip_control_port: 80\nthis is not a line\n",
        )],
    );
    p.ok(&["reboot"]);
    wait_for("the reboot", Duration::from_secs(30), || {
        (p.boots() == 2).then_some(())
    });
    let s = p.wait_provisioned();
    let m = messages(&s);
    assert!(
        m.contains("SIPDefault.cnf:2: warning: voip_control_port: 80 is out of range"),
        "{m}"
    );
    assert!(m.contains("SIPDefault.cnf:3: warning"), "{m}");
    assert_eq!(p.param("proxy1_address").0, "10.0.0.5");
}

#[test]
fn a_server_that_goes_away_leaves_the_last_good_configuration_in_flash() {
    let (root, mut server) = serve_tree(&[
        (
            "SIPDefault.cnf",
            "proxy1_address: 10.0.0.5\nmessages_uri: 8000\n",
        ),
        (PHONE_FILE, "line1_name: 43\n"),
    ]);
    let mut p = phone(&server, &[]);
    p.start();
    assert_eq!(
        p.param("line1_name"),
        (Value::from("43"), format!("{PHONE_FILE}:1"))
    );
    p.stop();

    server.stop();
    p.start();
    let s = p.status();
    assert_eq!(s["provisioning"]["state"], "flash");
    assert!(
        messages(&s).contains("no TFTP server answered"),
        "{}",
        messages(&s)
    );
    assert_eq!(p.param("line1_name"), (Value::from("43"), "flash".into()));
    assert_eq!(
        p.param("messages_uri"),
        (Value::from("8000"), "flash".into())
    );
    p.stop();

    // Back again with a changed file: the change applies, a removed line keeps its flash value.
    write_tree(
        root.path(),
        &[("SIPDefault.cnf", "proxy1_address: 10.0.0.6\n")],
    );
    server.restart();
    p.start();
    assert_eq!(p.status()["provisioning"]["state"], "provisioned");
    assert_eq!(
        p.param("proxy1_address"),
        (Value::from("10.0.0.6"), "SIPDefault.cnf:1".into())
    );
    assert_eq!(
        p.param("messages_uri"),
        (Value::from("8000"), "flash".into())
    );
}

#[test]
fn missing_phone_file_and_a_tftp_cfg_dir_tree() {
    let (root, server) = serve_tree(&[("SIPDefault.cnf", "proxy1_address: 10.0.0.5\n")]);
    let mut p = phone(&server, &[]);
    p.start();
    let s = p.status();
    assert_eq!(s["provisioning"]["state"], "provisioned");
    assert_eq!(files(&s)[1], (PHONE_FILE.to_string(), false));
    assert!(messages(&s).contains("not found; only SIPDefault.cnf applies"));
    p.stop();

    write_tree(
        root.path(),
        &[
            (
                "SIPDefault.cnf",
                "proxy1_address: 10.0.0.5\ntftp_cfg_dir: \"phones/\"\n",
            ),
            (&format!("phones/{PHONE_FILE}"), "line1_name: 77\n"),
            (PHONE_FILE, "line1_name: wrong-directory\n"),
        ],
    );
    p.start();
    let s = p.status();
    assert_eq!(files(&s)[1], (format!("phones/{PHONE_FILE}"), true));
    assert_eq!(
        p.param("line1_name"),
        (Value::from("77"), format!("phones/{PHONE_FILE}:1"))
    );
}

#[test]
fn dyn_tftp_addr_moves_to_another_real_server_once() {
    let first = tempfile::tempdir().unwrap();
    let second = tempfile::tempdir().unwrap();
    // Both servers on the same port, on two loopback addresses; each names the other.
    let a = TftpServer::start("127.0.0.1", first.path());
    let b = TftpServer::start_on(
        format!("127.0.0.2:{}", a.addr.port()).parse().unwrap(),
        second.path(),
    );
    write_tree(
        first.path(),
        &[(
            "SIPDefault.cnf",
            "dyn_tftp_addr: 127.0.0.2\nmessages_uri: first\n",
        )],
    );
    write_tree(
        second.path(),
        &[
            (
                "SIPDefault.cnf",
                "dyn_tftp_addr: 127.0.0.1\nmessages_uri: second\n",
            ),
            (PHONE_FILE, "line1_name: 55\n"),
        ],
    );
    let mut p = phone(&a, &[]);
    p.start();
    let s = p.status();
    assert_eq!(s["provisioning"]["server"], format!("tftp://{}", b.addr));
    assert_eq!(p.param("messages_uri").0, "second");
    assert_eq!(p.param("line1_name").0, "55");
    assert!(
        messages(&s).contains("already used in this cycle"),
        "{}",
        messages(&s)
    );
    // Not kept in flash: the next boot starts at the DHCP server again.
    let flash = std::fs::read(p.state.join("flash/config.json")).unwrap();
    assert!(!String::from_utf8_lossy(&flash).contains("dyn_tftp_addr"));
}

#[test]
fn dnsmasq_serves_the_phone_too() {
    // dnsmasq cannot move its TFTP server off port 69; use it only when that port is free.
    if std::net::UdpSocket::bind("127.0.0.3:69").is_err() {
        eprintln!("SKIPPED: 127.0.0.3:69 is not available for dnsmasq");
        return;
    }
    let root = tempfile::tempdir().unwrap();
    write_tree(
        root.path(),
        &[
            ("SIPDefault.cnf", "proxy1_address: 10.0.0.9\n"),
            (PHONE_FILE, "line1_name: 99\n"),
        ],
    );
    let dnsmasq = std::process::Command::new("dnsmasq")
        .args([
            "--keep-in-foreground",
            "--port=0",
            "--enable-tftp",
            "--tftp-secure",
            "--user=root",
        ])
        .arg(format!("--tftp-root={}", root.path().display()))
        .args([
            "--listen-address=127.0.0.3",
            "--bind-interfaces",
            "--interface=lo",
            "--conf-file=/dev/null",
            "--pid-file=",
        ])
        .spawn()
        .expect("dnsmasq (apt-get install dnsmasq-base)");
    let dnsmasq = Guard(dnsmasq);
    wait_for("dnsmasq to listen", Duration::from_secs(10), || {
        std::net::UdpSocket::bind("127.0.0.3:69")
            .is_err()
            .then_some(())
    });
    let mut p = Phone::new(
        MAC,
        &[
            "--tftp",
            "127.0.0.3",
            "--tftp-timeout-ms",
            "300",
            "--tftp-retries",
            "2",
        ],
    );
    p.start();
    let s = p.status();
    dnsmasq.stop();
    assert_eq!(s["provisioning"]["state"], "provisioned", "{s}");
    assert_eq!(p.param("line1_name").0, "99");
    assert_eq!(p.param("proxy1_address").0, "10.0.0.9");
}

#[test]
fn a_damaged_flash_is_reported_and_the_phone_still_provisions() {
    let (_root, server) = serve_tree(&[("SIPDefault.cnf", "proxy1_address: 10.0.0.5\n")]);
    let mut p = phone(&server, &[]);
    p.start();
    p.stop();
    // Bit rot in the stored configuration: the checksum catches it.
    let entry = p.state.join("flash/config.json");
    let mut bytes = std::fs::read(&entry).unwrap();
    let last = bytes.len() - 3;
    bytes[last] ^= 0x55;
    std::fs::write(&entry, bytes).unwrap();
    p.start();
    let s = p.status();
    assert!(messages(&s).contains("flash: error"), "{}", messages(&s));
    assert_eq!(s["provisioning"]["state"], "provisioned");
    assert_eq!(p.param("proxy1_address").0, "10.0.0.5");
    // And the next write repairs it.
    p.stop();
    p.start();
    assert!(!messages(&p.status()).contains("flash: error"));
}

#[test]
fn the_simulator_stops_cleanly_on_sigterm() {
    let (_root, server) = serve_tree(&[("SIPDefault.cnf", "proxy1_address: 10.0.0.5\n")]);
    let mut p = phone(&server, &[]);
    p.start();
    let state = p.state.to_string_lossy().into_owned();
    assert!(
        !processes_mentioning(&state).is_empty(),
        "provd runs with the phone's state directory"
    );
    let status = p.stop().expect("it was running");
    assert!(status.success(), "deskphone-sim ended with {status}");
    assert!(
        processes_mentioning(&state).is_empty(),
        "a service outlived the simulator"
    );
    assert!(p.log_text().contains("deskphone-sim: stopped"));
}

#[test]
fn a_new_image_version_is_reported_where_there_is_no_second_slot() {
    let (_root, server) = serve_tree(&[(
        "SIPDefault.cnf",
        "proxy1_address: 10.0.0.5\nimage_version: deskphone-9.9.9\n",
    )]);
    let mut p = phone(&server, &["--firmware-version", "deskphone-1.0.0"]);
    p.start();
    let s = p.status();
    let fw = &s["firmware"];
    assert_eq!(fw["running"], "deskphone-1.0.0");
    assert_eq!(fw["wanted"], "deskphone-9.9.9");
    assert_eq!(fw["state"], "unsupported", "{fw}");
    assert!(messages(&s).contains("deskphone-9.9.9 differs from the running deskphone-1.0.0"));
    assert_eq!(p.boots(), 1);
}
