//! sipd in the booted image (QEMU): the sample tree's two lines register with digest
//! authentication to a real Kamailio on the host (10.0.2.2 from inside, through QEMU's user
//! network), and `phonectl status` in the image says so.

use std::time::{Duration, Instant};

use deskphone_e2e::qemu::{image, report, QemuPhone, HOST_ADDR};
use deskphone_e2e::sip::Kamailio;
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
    for name in ["SIPDefault.cnf", "SIP525400123456.cnf", "dialplan.xml"] {
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
    report(&format!(
        "test qemu_sip: {:.1} s",
        test_start.elapsed().as_secs_f64()
    ));
}
