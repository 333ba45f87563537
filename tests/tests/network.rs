//! netd and provd on a LAN of network namespaces: dnsmasq is the DHCP server (options 150
//! and 66) and the TFTP server; the phone takes its address from DHCP, provisions from the
//! server option 150 names, switches to a static address set with phonectl (giving the
//! lease back), and releases its address when "DHCP Address Released" says so.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use deskphone_e2e::ntp::Chrony;
use deskphone_e2e::{bin_dir, cpu_time, rss_kib, wait_for, write_tree, Guard, Netns};
use serde_json::Value;

const MAC: &str = "00503EFFD842";
const MAC_COLONS: &str = "00:50:3e:ff:d8:42";

struct Lan {
    phone: Netns,
    lan: Netns,
    _dnsmasq: Guard,
    leases: PathBuf,
    dir: tempfile::TempDir,
    services: Vec<Guard>,
}

impl Lan {
    /// The LAN 10.10.0.0/24: dnsmasq at .1 hands out .50-.99 with option 150 = .1 (where the
    /// files are) and option 66 = .9 (nobody), routers .1 and .2, DNS .1, domain lan.example.
    fn new(files: &[(&str, &str)]) -> Lan {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("tftp");
        write_tree(&root, files);
        let phone = Netns::new("phone");
        let lan = Netns::new("lan");
        phone.ip(&[
            "link", "add", "eth0", "address", MAC_COLONS, "type", "veth", "peer", "name", "lan0",
            "netns", &lan.0,
        ]);
        lan.ip(&["link", "set", "lan0", "up"]);
        lan.ip(&["addr", "add", "10.10.0.1/24", "dev", "lan0"]);
        let leases = dir.path().join("dnsmasq.leases");
        let log = std::fs::File::create(dir.path().join("dnsmasq.log")).unwrap();
        let dnsmasq = lan
            .command("dnsmasq")
            .args([
                "--no-daemon",
                "--conf-file=/dev/null",
                "--port=0",
                "--interface=lan0",
                "--bind-interfaces",
                "--user=root",
                "--dhcp-authoritative",
                "--dhcp-range=10.10.0.50,10.10.0.99,255.255.255.0,2m",
                "--dhcp-option=3,10.10.0.1,10.10.0.2",
                "--dhcp-option=6,10.10.0.1",
                "--dhcp-option=15,lan.example",
                "--dhcp-option=150,10.10.0.1",
                "--dhcp-option=66,10.10.0.9",
                "--enable-tftp",
                "--log-dhcp",
            ])
            .arg(format!("--tftp-root={}", root.display()))
            .arg(format!("--dhcp-leasefile={}", leases.display()))
            .arg(format!(
                "--pid-file={}",
                dir.path().join("dnsmasq.pid").display()
            ))
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("dnsmasq (apt-get install dnsmasq-base)");
        Lan {
            phone,
            lan,
            _dnsmasq: Guard(dnsmasq),
            leases,
            dir,
            services: Vec::new(),
        }
    }

    fn runtime(&self) -> PathBuf {
        self.dir.path().join("run")
    }

    /// provd waiting for the network, and netd on eth0, both inside the phone's namespace.
    fn start_phone(&mut self) {
        let run = self.runtime();
        let state = self.dir.path().join("state");
        std::fs::create_dir_all(&run).unwrap();
        std::fs::create_dir_all(state.join("netd")).unwrap();
        let log = |name: &str| {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(self.dir.path().join(name))
                .unwrap()
        };
        let provd = self
            .phone
            .command(bin_dir().join("provd"))
            .args(["--mac", MAC, "--network-wait-secs", "30"])
            .arg("--state")
            .arg(state.join("provd"))
            .arg("--runtime")
            .arg(&run)
            .args(["--reboot-exit-code", "3", "--tftp-timeout-ms", "500"])
            .stdout(Stdio::null())
            .stderr(log("provd.log"))
            .spawn()
            .unwrap();
        self.services.push(Guard(provd));
        let netd = self
            .phone
            .command(bin_dir().join("netd"))
            .args(["--interface", "eth0", "--no-clock"])
            .arg("--runtime")
            .arg(&run)
            .arg("--state")
            .arg(state.join("netd"))
            .arg("--resolv-conf")
            .arg(run.join("resolv.conf"))
            .stdout(Stdio::null())
            .stderr(log("netd.log"))
            .spawn()
            .unwrap();
        self.services.push(Guard(netd));
    }

    fn phonectl(&self, args: &[&str]) -> std::process::Output {
        Command::new(bin_dir().join("phonectl"))
            .arg("--runtime")
            .arg(self.runtime())
            .args(args)
            .output()
            .unwrap()
    }

    fn set(&self, name: &str, value: &str) {
        let out = self.phonectl(&["set", name, value, "--password", "cisco"]);
        assert!(
            out.status.success(),
            "set {name} {value}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn status(&self) -> Option<Value> {
        let out = self.phonectl(&["status", "--json"]);
        out.status
            .success()
            .then(|| serde_json::from_slice(&out.stdout).ok())
            .flatten()
    }

    fn addresses(&self) -> String {
        self.phone.ip(&["-4", "-o", "addr", "show", "dev", "eth0"])
    }

    fn leases(&self) -> String {
        std::fs::read_to_string(&self.leases).unwrap_or_default()
    }

    fn logs(&self) -> String {
        ["provd.log", "netd.log", "dnsmasq.log"]
            .iter()
            .map(|n| {
                format!(
                    "--- {n}\n{}",
                    std::fs::read_to_string(self.dir.path().join(n)).unwrap_or_default()
                )
            })
            .collect()
    }

    fn wait(&self, what: &str, mut f: impl FnMut(&Value) -> bool) -> Value {
        let found = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            wait_for(what, Duration::from_secs(30), || {
                self.status().filter(|s| f(s))
            })
        }));
        match found {
            Ok(s) => s,
            Err(_) => panic!("{what}: not within 30 s\n{}", self.logs()),
        }
    }
}

fn sample_files() -> Vec<(&'static str, &'static str)> {
    vec![
        (
            "SIPDefault.cnf",
            "phone_label: \"From DHCP\"\nsntp_mode: unicast\nsntp_server: 10.10.0.1\n",
        ),
        ("SIP00503EFFD842.cnf", "line1_name: 2001\n"),
    ]
}

fn param<'a>(status: &'a Value, name: &str) -> (&'a Value, &'a str) {
    let p = &status["configuration"][name];
    (&p["value"], p["source"].as_str().unwrap_or(""))
}

#[test]
fn dhcp_names_the_tftp_server_then_static_addressing_and_release() {
    let mut lan = Lan::new(&sample_files());
    let _chrony = Chrony::serve_in(&lan.lan, "10.10.0.1");
    lan.start_phone();

    // DHCP: the address, and provisioning from option 150's server (before option 66's).
    let s = lan.wait("provisioning from the DHCP-named server", |s| {
        s["provisioning"]["state"] == "provisioned"
    });
    assert_eq!(s["provisioning"]["server"], "tftp://10.10.0.1:69", "{s:#}");
    assert_eq!(param(&s, "phone_label").0, "From DHCP");
    let net = &s["network"];
    assert_eq!(net["addressing"], "dhcp", "{net:#}");
    assert_eq!(net["dhcp"]["tftp_servers"][0], "10.10.0.1");
    assert_eq!(net["dhcp"]["tftp_server_name"], "10.10.0.9");
    assert_eq!(
        net["routers"],
        serde_json::json!(["10.10.0.1", "10.10.0.2"])
    );
    let address = net["dhcp"]["address"].as_str().unwrap().to_string();
    assert!(address.starts_with("10.10.0."), "{address}");
    assert!(lan.addresses().contains(&format!("{address}/24")));
    // The menus show the lease (source dhcp); the DHCP server too.
    assert_eq!(
        param(&s, "ip_address"),
        (&Value::from(address.clone()), "dhcp")
    );
    assert_eq!(param(&s, "dhcp_server").0, "10.10.0.1");
    assert_eq!(param(&s, "default_router_2").0, "10.10.0.2");
    // resolv.conf, and the host name the phone gave the server.
    let resolv = std::fs::read_to_string(lan.runtime().join("resolv.conf")).unwrap();
    assert!(
        resolv.contains("search lan.example\nnameserver 10.10.0.1\n"),
        "{resolv}"
    );
    assert!(lan.leases().contains("SIP00503EFFD842"), "{}", lan.leases());
    // The clock: unicast SNTP to the server the file names (netd follows the configuration
    // that provisioning brought; --no-clock keeps this machine's clock as it is).
    let s = lan.wait("an SNTP sync", |s| s["time"]["state"] == "synchronised");
    assert_eq!(s["time"]["server"], "10.10.0.1", "{:#}", s["time"]);
    assert_eq!(s["time"]["mode"], "unicast");
    assert!(s["time"]["last_offset_secs"].as_f64().unwrap().abs() < 0.5);
    let routes = lan.phone.ip(&["-4", "route", "show", "default"]);
    assert!(
        routes.starts_with("default via 10.10.0.1") && routes.contains("default via 10.10.0.2"),
        "{routes}"
    );

    // DHCP off: the lease's values stay as static settings (the phone keeps its address),
    // and the lease goes back to the server.
    lan.set("dhcp_enabled", "0");
    let s = lan.wait("the lease kept as static settings", |s| {
        s["network"]["addressing"] == "static"
    });
    assert_eq!(
        s["network"]["address"],
        format!("{address}/24"),
        "{:#}",
        s["network"]
    );
    assert_eq!(
        param(&s, "subnet_mask"),
        (&Value::from("255.255.255.0"), "flash")
    );
    wait_for(
        "the lease released at the server",
        Duration::from_secs(10),
        || (!lan.leases().contains("SIP00503EFFD842")).then_some(()),
    );
    // Static addressing from the settings.
    lan.set("ip_address", "10.10.0.30");
    lan.set("subnet_mask", "255.255.255.0");
    lan.set("default_router_1", "10.10.0.2");
    lan.set("dns_server_1", "10.10.0.53");
    let s = lan.wait("static addressing", |s| {
        s["network"]["address"] == "10.10.0.30/24" && s["network"]["routers"][0] == "10.10.0.2"
    });
    assert_eq!(s["network"]["addressing"], "static");
    assert_eq!(
        param(&s, "ip_address"),
        (&Value::from("10.10.0.30"), "flash")
    );
    let addrs = lan.addresses();
    assert!(
        addrs.contains("10.10.0.30/24") && !addrs.contains(&address),
        "{addrs}"
    );
    wait_for(
        "the lease released at the server",
        Duration::from_secs(10),
        || (!lan.leases().contains("SIP00503EFFD842")).then_some(()),
    );
    let resolv = std::fs::read_to_string(lan.runtime().join("resolv.conf")).unwrap();
    assert!(resolv.contains("nameserver 10.10.0.53"), "{resolv}");

    // DHCP again, then "DHCP Address Released": no address until it is set back to No.
    lan.set("dhcp_enabled", "1");
    lan.wait("a lease again", |s| s["network"]["addressing"] == "dhcp");
    lan.set("dhcp_address_released", "1");
    let s = lan.wait("the address released", |s| {
        s["network"]["addressing"] == "released"
    });
    assert!(s["network"]["address"].is_null(), "{s:#}");
    assert_eq!(lan.addresses(), "");
    wait_for("the release at the server", Duration::from_secs(10), || {
        (!lan.leases().contains("SIP00503EFFD842")).then_some(())
    });
    lan.set("dhcp_address_released", "0");
    lan.wait("a lease after the release", |s| {
        s["network"]["addressing"] == "dhcp"
    });
    // Figures for the README (not asserted): netd's memory and CPU after all of the above.
    let netd = lan.services[1].0.id();
    eprintln!(
        "netd (debug build): resident {} KiB, CPU {:?} for the whole test",
        rss_kib(netd),
        cpu_time(netd)
    );
}

#[test]
fn without_dhcp_the_phone_provisions_from_flash_after_the_wait() {
    // No DHCP server answers on this LAN: netd keeps asking, provd gives up waiting.
    let dir = tempfile::tempdir().unwrap();
    let phone = Netns::new("lonely");
    phone.ip(&[
        "link", "add", "eth0", "address", MAC_COLONS, "type", "veth", "peer", "name", "peer0",
    ]);
    phone.ip(&["link", "set", "peer0", "up"]);
    let run = dir.path().join("run");
    std::fs::create_dir_all(&run).unwrap();
    let _provd = Guard(
        phone
            .command(bin_dir().join("provd"))
            .args(["--mac", MAC, "--network-wait-secs", "2"])
            .arg("--state")
            .arg(dir.path().join("provd"))
            .arg("--runtime")
            .arg(&run)
            .args(["--reboot-exit-code", "3"])
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let _netd = Guard(
        phone
            .command(bin_dir().join("netd"))
            .args(["--interface", "eth0", "--no-clock"])
            .arg("--runtime")
            .arg(&run)
            .arg("--state")
            .arg(dir.path())
            .arg("--resolv-conf")
            .arg(run.join("resolv.conf"))
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let status = || -> Option<Value> {
        let out = Command::new(bin_dir().join("phonectl"))
            .arg("--runtime")
            .arg(&run)
            .args(["status", "--json"])
            .output()
            .ok()?;
        serde_json::from_slice(&out.stdout).ok()
    };
    let s = wait_for("provisioning from flash", Duration::from_secs(20), || {
        status().filter(|s| s["provisioning"]["state"] == "flash")
    });
    assert_eq!(s["network"]["addressing"], "waiting", "{s:#}");
    let messages = s["status_messages"].to_string();
    assert!(messages.contains("no network after 2 s"), "{messages}");
}
