//! check-sync (here started with `phonectl resync`; the SIP agent adds the NOTIFY): idle
//! wait, syncinfo.xml steps a-e, reboot, the dial plan fetched again.

use std::time::{Duration, Instant};

use deskphone_e2e::{serve_tree, wait_for, write_tree, Phone, TftpServer};
use serde_json::Value;

const MAC: &str = "00503EFFD842";

fn tree(root: &std::path::Path, sync: &str) {
    write_tree(
        root,
        &[
            ("SIPDefault.cnf", "proxy1_address: 10.0.0.5\ndial_template: plan\n"),
            ("plan.xml", "<DIALTEMPLATE><TEMPLATE MATCH=\"1...\"/></DIALTEMPLATE>"),
            ("syncinfo.xml", &format!("<SYNCINFO>\n<IMAGE VERSION=\"other-image\" SYNC=\"9\"/>\n<IMAGE VERSION=\"*\" SYNC=\"{sync}\"/>\n</SYNCINFO>\n")),
        ],
    );
}

fn resync_result(p: &Phone) -> Value {
    wait_for("the check-sync to finish", Duration::from_secs(30), || {
        let s = p.status();
        (s["resync"]["state"] == "idle" && !s["resync"]["last_result"].is_null()).then_some(s)
    })
}

#[test]
fn same_sync_does_nothing_but_fetches_the_dial_plan_again() {
    let root = tempfile::tempdir().unwrap();
    tree(root.path(), "1");
    let server = TftpServer::start("127.0.0.1", root.path());
    let addr = server.addr.to_string();
    let mut p = Phone::new(MAC, &["--tftp", &addr, "--resync-idle-secs", "1"]);
    p.start();
    write_tree(
        root.path(),
        &[(
            "plan.xml",
            "<DIALTEMPLATE><TEMPLATE MATCH=\"1...\"/><TEMPLATE MATCH=\"9.......\"/></DIALTEMPLATE>",
        )],
    );
    p.ok(&["resync"]);
    let s = resync_result(&p);
    let result = s["resync"]["last_result"].as_str().unwrap();
    assert!(result.contains("unchanged"), "{result}");
    assert!(
        result.contains("plan.xml fetched again (2 rules)"),
        "{result}"
    );
    assert_eq!(p.boots(), 1);
}

#[test]
fn a_new_sync_value_reboots_once_and_is_remembered() {
    let root = tempfile::tempdir().unwrap();
    tree(root.path(), "1");
    let server = TftpServer::start("127.0.0.1", root.path());
    let addr = server.addr.to_string();
    let mut p = Phone::new(MAC, &["--tftp", &addr, "--resync-idle-secs", "2"]);
    p.start();
    assert_eq!(p.status()["resync"]["sync"], "1");

    tree(root.path(), "2");
    let asked = Instant::now();
    p.ok(&["resync"]);
    assert_eq!(p.status()["resync"]["state"], "waiting_for_idle_phone");
    wait_for("the reboot", Duration::from_secs(30), || {
        (p.boots() == 2).then_some(())
    });
    assert!(
        asked.elapsed() >= Duration::from_secs(2),
        "the idle wait was not honoured"
    );
    p.wait_provisioned();
    assert_eq!(p.param("sync"), (Value::from("2"), "flash".into()));

    // The same syncinfo.xml again: nothing to do.
    p.ok(&["resync"]);
    let s = resync_result(&p);
    assert!(s["resync"]["last_result"]
        .as_str()
        .unwrap()
        .contains("unchanged"));
    assert_eq!(p.boots(), 2);
}

/// A phone whose check-sync waits 1 s of idle phone (the guide's 20 s, shortened), with a
/// new SYNC on its server.
fn phone_waiting_one_second_for_idle() -> (tempfile::TempDir, TftpServer, Phone) {
    let root = tempfile::tempdir().unwrap();
    tree(root.path(), "5");
    let server = TftpServer::start("127.0.0.1", root.path());
    let addr = server.addr.to_string();
    let mut p = Phone::new(MAC, &["--tftp", &addr, "--resync-idle-secs", "1"]);
    p.start();
    (root, server, p)
}

/// `phonectl ARGS` makes the phone idle: the reboot for the new SYNC follows, not before
/// the idle wait.
fn idle_then_reboot(p: &Phone, args: &[&str]) {
    let idle = Instant::now();
    p.ok(args);
    wait_for("the reboot", Duration::from_secs(30), || {
        (p.boots() == 2).then_some(())
    });
    assert!(idle.elapsed() >= Duration::from_secs(1));
}

#[test]
fn a_busy_phone_waits_until_it_has_been_idle() {
    let (_root, _server, p) = phone_waiting_one_second_for_idle();
    p.ok(&["activity", "busy"]);
    p.ok(&["resync"]);
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(p.boots(), 1, "rebooted during a call");
    assert_eq!(p.status()["resync"]["state"], "waiting_for_idle_phone");
    idle_then_reboot(&p, &["activity", "idle"]);
}

/// The handset lifted on the UI keeps the phone busy, whatever another client says: each
/// client's word counts until it takes it back.
#[test]
fn an_off_hook_handset_holds_the_check_sync_back() {
    let (_root, _server, p) = phone_waiting_one_second_for_idle();
    wait_for("the UI", Duration::from_secs(20), || {
        (p.status()["screen"]["name"] == "idle").then_some(())
    });
    p.ok(&["key", "offhook"]);
    p.ok(&["resync"]);
    // phonectl saying idle does not undo the UI's busy.
    p.ok(&["activity", "idle"]);
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(p.boots(), 1, "rebooted with the handset off hook");
    assert_eq!(p.status()["resync"]["state"], "waiting_for_idle_phone");
    idle_then_reboot(&p, &["key", "onhook"]);
}

#[test]
fn syncinfo_for_another_image_only_is_ignored() {
    let (_root, server) = serve_tree(&[
        ("SIPDefault.cnf", "proxy1_address: 10.0.0.5\n"),
        (
            "syncinfo.xml",
            "<IMAGE VERSION=\"other-image\" SYNC=\"7\"/>\n",
        ),
    ]);
    let addr = server.addr.to_string();
    let mut p = Phone::new(MAC, &["--tftp", &addr, "--resync-idle-secs", "1"]);
    p.start();
    p.ok(&["resync"]);
    let s = resync_result(&p);
    assert!(
        s["resync"]["last_result"]
            .as_str()
            .unwrap()
            .contains("lists neither"),
        "{s}"
    );
    assert_eq!(p.boots(), 1);
}
