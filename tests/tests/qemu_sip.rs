//! sipd in the booted image (QEMU): the sample tree's two lines register with digest
//! authentication to a real Kamailio on the host (10.0.2.2 from inside, through QEMU's user
//! network), and `phonectl status` in the image says so. Then check-sync NOTIFYs from SIPp
//! on the host (which reach the phone from 10.0.2.2, its proxy): taken, and after 20 s of
//! idle phone no reboot while syncinfo.xml's SYNC is unchanged; refused (403) once
//! 10.0.2.2 is no configured proxy any more; taken again and a reboot when SYNC changed.

use std::time::{Duration, Instant};

use deskphone_e2e::qemu::{image, report, QemuPhone, HOST_ADDR};
use deskphone_e2e::sip::{check_sync_scenario, Kamailio, Sipp};
use deskphone_e2e::{workspace, write_tree};
use serde_json::Value;

/// TCG emulation on two cores.
const BOOT_TIMEOUT: Duration = Duration::from_secs(300);

#[test]
fn the_image_registers_the_sample_lines_to_kamailio_with_digest_auth() {
    let test_start = Instant::now();
    image();
    let kam = Kamailio::start(&[("1001", "secret1001"), ("1002", "secret1002")]);
    // The sample tree, its registrar moved to the host's Kamailio.
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
            text = text
                .replace(
                    "proxy1_address: \"127.0.0.1\"",
                    &format!("proxy1_address: \"{HOST_ADDR}\""),
                )
                .replace(
                    "proxy1_port: \"5060\"",
                    &format!("proxy1_port: \"{}\"", kam.addr.port()),
                );
            assert!(
                text.contains(HOST_ADDR),
                "the sample's proxy1_address moved"
            );
        }
        write_tree(tree.path(), &[(name, &text)]);
    }
    let mut phone = QemuPhone::new("qemu_sip", tree.path());
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
    let proxy = format!("{HOST_ADDR}:{}", kam.addr.port());
    for (l, name) in lines.iter().zip(["1001", "1002"]) {
        assert_eq!(l["name"], name, "{l:#}");
        assert_eq!(l["proxy"], proxy.as_str(), "{l:#}");
    }

    // Kamailio's side: a binding for each line, reached through QEMU's user network, after a
    // digest challenge.
    let contacts = kam.contacts();
    for user in ["1001", "1002"] {
        let c = contacts
            .iter()
            .find(|c| c.aor == user)
            .unwrap_or_else(|| panic!("no binding for {user}: {contacts:?}"));
        assert!(
            c.address.starts_with(&format!("sip:{user}@")),
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

    check_sync(&mut phone, tree.path());
    report(&format!(
        "test qemu_sip: {:.1} s",
        test_start.elapsed().as_secs_f64()
    ));
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
    let target = format!("127.0.0.1:{}", phone.sip_host_port());
    let before = phone.status()["resync"]["last_result"].clone();

    // From the proxy, SYNC unchanged: taken, then after 20 s of idle phone nothing to do.
    let sent = Instant::now();
    let mut pbx = Sipp::start_on("127.0.0.1", &check_sync_scenario(200), &[&target]);
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

    // 10.0.2.2 no longer a proxy (a local edit): the same NOTIFY is refused. The new proxy
    // is the phone's own loopback: an address outside QEMU's user network would make slirp
    // close the SIP port forwarding (it sends from that socket and the host has no route).
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
    let mut stranger = Sipp::start_on("127.0.0.1", &check_sync_scenario(403), &[&target]);
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
        log.contains("from 10.0.2.2") && log.contains("refused: not a configured proxy"),
        "{log}"
    );

    // Back to the proxy, and a new SYNC in syncinfo.xml: the phone reboots after 20 s.
    phone.sh_ok(&format!(
        "phonectl set proxy1_address {HOST_ADDR} --password cisco"
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
        .starts_with(HOST_ADDR)
    {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "sipd kept 127.0.0.1"
        );
        std::thread::sleep(Duration::from_secs(1));
    }
    let sent = Instant::now();
    let mut pbx = Sipp::start_on("127.0.0.1", &check_sync_scenario(200), &[&target]);
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
