//! The image's udhcpc event script (`usr/lib/deskphone/dhcp-hook`), run on the host with
//! udhcpc's environment and a stand-in `ip`: what it hands provd for each way a DHCP server
//! can name the TFTP server, and how it configures the interface. (The QEMU test covers
//! option 66 end to end; QEMU's DHCP server cannot send option 150.)

use std::path::Path;
use std::process::Command;

use deskphone_e2e::workspace;

const HOOK: &str = "buildroot-overlay/rootfs-overlay/usr/lib/deskphone/dhcp-hook";

/// Runs the hook for `event` with `vars`; returns (provd.env, resolv.conf, ip calls).
fn run(event: &str, vars: &[(&str, &str)]) -> (String, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let ip_log = dir.path().join("ip.log");
    let ip = bin.join("ip");
    std::fs::write(
        &ip,
        format!("#!/bin/sh\necho \"$*\" >> {}\n", ip_log.display()),
    )
    .unwrap();
    std::fs::set_permissions(&ip, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let runtime = dir.path().join("run");
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let out = Command::new("sh")
        .arg(workspace().join(HOOK))
        .arg(event)
        .env_clear()
        .env("PATH", path)
        .env("DESKPHONE_RUNTIME", &runtime)
        .env("interface", "eth0")
        .envs(vars.iter().copied())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
    (
        read(&runtime.join("provd.env")),
        read(&runtime.join("resolv.conf")),
        read(&ip_log),
    )
}

const LEASE: &[(&str, &str)] = &[
    ("ip", "192.168.1.20"),
    ("mask", "24"),
    ("router", "192.168.1.1 192.168.1.254"),
    ("dns", "192.168.1.1 9.9.9.9"),
    ("domain", "example.org"),
];

fn lease_with(extra: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
    LEASE.iter().chain(extra).copied().collect()
}

#[test]
fn option_150_lists_every_server_before_option_66() {
    let (env, _, _) = run(
        "bound",
        &lease_with(&[
            ("opt150", "0a0000050a0000fe"),
            ("tftp", "tftp.example.org"),
            ("siaddr", "192.168.1.5"),
        ]),
    );
    assert_eq!(
        env,
        "PROVD_TFTP_ARGS=--tftp-server 10.0.0.5 --tftp-server 10.0.0.254 --dhcp-option-66 tftp.example.org\n"
    );
}

#[test]
fn option_66_alone() {
    let (env, _, _) = run("bound", &lease_with(&[("tftp", "10.0.2.2")]));
    assert_eq!(env, "PROVD_TFTP_ARGS=--dhcp-option-66 10.0.2.2\n");
}

#[test]
fn next_server_when_no_option_names_one() {
    let (env, _, _) = run("renew", &lease_with(&[("siaddr", "192.168.1.5")]));
    assert_eq!(env, "PROVD_TFTP_ARGS=--dhcp-option-66 192.168.1.5\n");
    let (env, _, _) = run("bound", &lease_with(&[("siaddr", "0.0.0.0")]));
    assert_eq!(env, "PROVD_TFTP_ARGS=\n", "no server at all");
}

#[test]
fn an_option_66_that_is_no_server_name_is_ignored() {
    let (env, _, _) = run(
        "bound",
        &lease_with(&[("tftp", "--state /tmp/evil"), ("siaddr", "192.168.1.5")]),
    );
    assert_eq!(env, "PROVD_TFTP_ARGS=--dhcp-option-66 192.168.1.5\n");
}

#[test]
fn the_lease_configures_the_interface_and_the_resolver() {
    let (_, resolv, ip) = run("bound", LEASE);
    assert_eq!(
        ip,
        "-4 addr flush dev eth0\n\
         -4 addr replace 192.168.1.20/24 dev eth0\n\
         -4 route replace default via 192.168.1.1 dev eth0\n"
    );
    assert_eq!(
        resolv,
        "search example.org\nnameserver 192.168.1.1\nnameserver 9.9.9.9\n"
    );
    // A renewal keeps the address in place (no flush).
    let (_, _, ip) = run("renew", LEASE);
    assert!(!ip.contains("flush"), "{ip}");
    let (env, _, ip) = run("deconfig", &[]);
    assert_eq!(ip, "-4 addr flush dev eth0\nlink set dev eth0 up\n");
    assert_eq!(env, "", "deconfig leaves provd.env alone");
}

#[test]
fn the_image_scripts_pass_shellcheck() {
    for script in [HOOK, "image/debian/setup.sh", "image/debian/customize.sh"] {
        let out = Command::new("shellcheck")
            .arg(workspace().join(script))
            .output()
            .expect("shellcheck (apt-get install shellcheck)");
        assert!(
            out.status.success(),
            "shellcheck {script}:\n{}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
}
