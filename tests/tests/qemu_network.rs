//! The network and the clock in the booted image (QEMU):
//!
//! - the clock follows a chrony server (unicast SNTP to 10.0.2.2, which QEMU's user network
//!   forwards to chronyd on the loopback of the test's network namespace): set an hour
//!   wrong, netd sets it right again;
//! - DST switches the displayed time at the configured instant (the clock set by the test
//!   a few seconds before the first Sunday of April, 02:00);
//! - static addressing set from the Settings menu with the keypad survives a reboot, and
//!   the phone provisions over it.
//!
//! One boot for the first two, one reboot for the third: under TCG a boot costs a minute.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use deskphone_e2e::ntp::Chrony;
use deskphone_e2e::qemu::{image, report, QemuPhone};
use deskphone_e2e::{private_network, write_tree};
use serde_json::Value;

const BOOT_TIMEOUT: Duration = Duration::from_secs(300);
/// The host as the phone sees it on QEMU's user network (TFTP, and chrony's NTP).
const HOST_ADDR: &str = "10.0.2.2";

/// 2027-04-04 (the first Sunday of April) 01:59:50 UTC.
const BEFORE_DST: u64 = 1_806_803_990;

fn keys(phone: &mut QemuPhone, keys: &str) {
    phone.sh_ok(&format!("phonectl key {keys}"));
}

fn lines(s: &Value) -> Vec<String> {
    s["screen"]["lines"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|l| l.as_str().unwrap_or_default().to_string())
                .collect()
        })
        .unwrap_or_default()
}

fn wait_status(
    phone: &mut QemuPhone,
    what: &str,
    wait: Duration,
    pred: impl Fn(&Value) -> bool,
) -> Value {
    let start = Instant::now();
    loop {
        let s = phone.status();
        if pred(&s) {
            return s;
        }
        assert!(
            start.elapsed() < wait,
            "{what}: not within {wait:?}\nnetwork {:#}\ntime {:#}\nscreen {:#}\n{}",
            s["network"],
            s["time"],
            s["screen"],
            phone.sh("journalctl -u netd --no-pager | tail -30").output
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

fn guest_clock(phone: &mut QemuPhone) -> i64 {
    phone.sh_ok("date +%s").trim().parse().unwrap()
}

fn host_clock() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

#[test]
fn clock_from_chrony_dst_on_time_and_static_addressing_across_a_reboot() {
    image();
    // chronyd answers on the host's 127.0.0.1:123 of this namespace: 10.0.2.2 to the phone.
    private_network(&[]);
    let chrony = Chrony::serve("127.0.0.1");
    let tree = tempfile::tempdir().unwrap();
    write_tree(
        tree.path(),
        &[(
            "SIPDefault.cnf",
            &format!(
                "sntp_mode: unicast\nsntp_server: {HOST_ADDR}\ntime_zone: GMT\n\
                 time_format_24hr: 1\ndst_auto_adjust: 1\ndst_offset: 1\n\
                 dst_start_month: April\ndst_start_day: 0\ndst_start_day_of_week: Sunday\n\
                 dst_start_week_of_month: 1\ndst_start_time: 02:00\n\
                 dst_stop_month: October\ndst_stop_day: 0\ndst_stop_day_of_week: Sunday\n\
                 dst_stop_week_of_month: 8\ndst_stop_time: 02:00\ntelnet_level: 1\n"
            ),
        )],
    );
    let mut phone = QemuPhone::new("qemu_network", tree.path());
    phone.boot();
    phone.wait_ready(BOOT_TIMEOUT);
    phone.wait_provisioned(Duration::from_secs(120));

    // telnet_level 1: the console listens on port 23, as its own unprivileged user.
    let listening = phone.sh_ok("ss -Hltnp 'sport = :23'");
    assert!(listening.contains("consoled"), "port 23: {listening}");
    let user = phone.sh_ok("stat -c %U /proc/$(systemctl show -p MainPID --value consoled)");
    assert_eq!(user.trim(), "deskphone-consoled");

    // The clock follows chrony: synchronised, then an hour wrong and set right again.
    let s = wait_status(&mut phone, "an SNTP sync", Duration::from_secs(60), |s| {
        s["time"]["state"] == "synchronised"
    });
    assert_eq!(s["time"]["server"], HOST_ADDR, "{:#}", s["time"]);
    assert_eq!(s["time"]["mode_in_effect"], "unicast", "{:#}", s["time"]);
    let off = (guest_clock(&mut phone) - host_clock()).abs();
    assert!(off <= 2, "the phone's clock is {off} s from chrony's");
    let first_sync = s["time"]["last_sync"].clone();
    phone.sh_ok(&format!("date -u -s @{}", host_clock() - 3600));
    phone.sh_ok("systemctl restart netd");
    let start = Instant::now();
    let s = wait_status(
        &mut phone,
        "the clock set right again",
        Duration::from_secs(60),
        |s| s["time"]["last_sync"] != first_sync && s["time"]["state"] == "synchronised",
    );
    let off = (guest_clock(&mut phone) - host_clock()).abs();
    assert!(off <= 2, "after the correction the clock is {off} s off");
    let applied = s["time"]["last_offset_secs"].as_f64().unwrap_or_default();
    assert!(
        (applied - 3600.0).abs() < 5.0,
        "the correction was {applied} s: {:#}",
        s["time"]
    );
    report(&format!(
        "SNTP: an hour wrong corrected {:.1} s after netd restarted",
        start.elapsed().as_secs_f64()
    ));

    // DST: chrony stops answering (the test owns the clock now), the clock goes to ten
    // seconds before the first Sunday of April, 02:00 GMT; the idle screen jumps to 03:00.
    drop(chrony);
    phone.sh_ok(&format!("date -u -s @{BEFORE_DST}"));
    let s = wait_status(
        &mut phone,
        "the idle clock before DST",
        Duration::from_secs(20),
        |s| {
            s["screen"]["clock"]
                .as_str()
                .unwrap_or_default()
                .contains("01:59")
        },
    );
    assert_eq!(s["screen"]["name"], "idle");
    let s = wait_status(
        &mut phone,
        "the idle clock in DST",
        Duration::from_secs(30),
        |s| {
            s["screen"]["clock"]
                .as_str()
                .unwrap_or_default()
                .contains("03:00")
        },
    );
    let switched_at = guest_clock(&mut phone);
    assert!(
        switched_at >= BEFORE_DST as i64 + 10,
        "DST shown before 02:00 ({switched_at})"
    );
    report(&format!("DST: screen clock {}", s["screen"]["clock"]));

    // Settings > Unlock Config ("cisco" by multi-tap), Network Configuration: DHCP off,
    // IP Address, Subnet Mask, Default Router 1, TFTP Server (shown from the lease until
    // edited); Save.
    phone.sh_ok(&format!("date -u -s @{}", host_clock()));
    keys(&mut phone, "settings 8");
    keys(&mut phone, "2 2 2 4 4 4 7 7 7 7 2 2 2 6 6 6 soft1");
    keys(&mut phone, "3 soft2");
    let s = wait_status(
        &mut phone,
        "DHCP Enabled: No",
        Duration::from_secs(20),
        |s| lines(s).iter().any(|l| l.contains("DHCP Enabled: No")),
    );
    let at = |what: &str| {
        lines(&s)
            .iter()
            .position(|l| l.contains(what))
            .unwrap_or_else(|| panic!("no {what} in {:#}", s["screen"]))
    };
    let mut fields = vec![
        (at("IP Address"), "1 0 star 0 star 2 star 8 6"),
        (at("Subnet Mask"), "2 5 5 star 2 5 5 star 2 5 5 star 0"),
        (at("Default Router 1"), "1 0 star 0 star 2 star 2"),
        (at("TFTP Server"), "1 0 star 0 star 2 star 2"),
    ];
    fields.sort();
    let mut row = 0;
    for (target, digits) in fields {
        let downs = vec!["down"; target - row].join(" ");
        if !downs.is_empty() {
            keys(&mut phone, &downs);
        }
        row = target;
        // Edit starts from what the field shows (the lease's values): "<<" clears it.
        let clear = vec!["soft2"; 15].join(" ");
        keys(&mut phone, &format!("soft1 {clear} {digits} soft1"));
    }
    keys(&mut phone, "soft3");
    let s = wait_status(
        &mut phone,
        "the static address",
        Duration::from_secs(30),
        // Save sends the settings one by one: wait for the last of them.
        |s| s["network"]["address"] == "10.0.2.86/24" && s["network"]["routers"][0] == HOST_ADDR,
    );
    assert_eq!(s["network"]["addressing"], "static", "{:#}", s["network"]);

    // It survives a reboot, and the phone provisions over it.
    // The shell may go down before it answers: either way a new boot follows.
    if phone
        .sh_unless_reboot("systemctl reboot", Duration::from_secs(120))
        .is_some()
    {
        phone.wait_reboot(Duration::from_secs(120));
    }
    phone.wait_ready(BOOT_TIMEOUT);
    let s = phone.wait_provisioned(Duration::from_secs(120));
    assert_eq!(s["provisioning"]["state"], "provisioned", "{s:#}");
    assert_eq!(s["network"]["addressing"], "static", "{:#}", s["network"]);
    let ip = phone.sh_ok("ip -4 -o addr show dev eth0");
    assert!(ip.contains("10.0.2.86/24"), "{ip}");
    assert_eq!(
        s["configuration"]["ip_address"]["source"], "flash",
        "{:#}",
        s["configuration"]["ip_address"]
    );

    // network_media_type through the ethtool interface: virtio-net takes a fixed speed.
    phone.sh_ok("phonectl set network_media_type Half-10 --password cisco");
    let s = wait_status(
        &mut phone,
        "Half-10 on the port",
        Duration::from_secs(20),
        |s| {
            s["network"]["media"]
                .as_str()
                .is_some_and(|m| m.starts_with("Half-10"))
        },
    );
    assert!(
        s["network"]["media"]
            .as_str()
            .unwrap()
            .contains("10 Mb/s, half duplex"),
        "{:#}",
        s["network"]
    );
    assert_eq!(phone.sh_ok("cat /sys/class/net/eth0/speed").trim(), "10");
    assert_eq!(phone.sh_ok("cat /sys/class/net/eth0/duplex").trim(), "half");

    // The admin VLAN: an 802.1Q sub-interface carries the address (QEMU's user network
    // does not speak VLANs, so only the phone's side is looked at).
    phone.sh_ok("phonectl set admin_vlan_id 42 --password cisco");
    let s = wait_status(&mut phone, "VLAN 42", Duration::from_secs(20), |s| {
        s["network"]["interface"] == "eth0.42"
    });
    assert_eq!(s["network"]["vlan"], 42);
    let link = phone.sh_ok("ip -d link show eth0.42");
    assert!(link.contains("vlan protocol 802.1Q id 42"), "{link}");
    let ip = phone.sh_ok("ip -4 -o addr show");
    assert!(
        ip.lines()
            .any(|l| l.contains("eth0.42") && l.contains("10.0.2.86/24")),
        "{ip}"
    );
    let routes = phone.sh_ok("ip -4 route show default");
    assert!(
        routes.contains("default via 10.0.2.2 dev eth0.42"),
        "{routes}\n{:#}\n{}",
        s["network"],
        phone.sh_ok("journalctl -u netd --no-pager | tail -20")
    );

    // Settings > Status > Network Statistics: the counters of the interface in use, and a
    // board with one Ethernet port says that Network Port 2 has nothing behind it.
    keys(&mut phone, "settings 7 2");
    let s = wait_status(
        &mut phone,
        "Network Statistics",
        Duration::from_secs(20),
        |s| s["screen"]["title"] == "Network Statistics",
    );
    let rows = lines(&s);
    assert!(rows.iter().any(|l| l == "Interface: eth0.42"), "{rows:?}");
    assert!(
        rows.iter().any(|l| l == "Port 2: none (1-port board)"),
        "{rows:?}"
    );
}
