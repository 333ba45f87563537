//! Settings changed on the phone: lock rules, flash, precedence over a reboot, erase.

use std::time::Duration;

use deskphone_e2e::{serve_tree, Phone};
use deskphone_ipc::client::{Client, Provd};
use deskphone_ipc::provd::{Event, Reply, Request};
use deskphone_ipc::RuntimeDir;
use serde_json::Value;

const MAC: &str = "00503EFFD842";

#[test]
fn edits_need_the_password_persist_and_yield_to_the_files_after_a_reboot() {
    let (_root, server) = serve_tree(&[
        (
            "SIPDefault.cnf",
            "proxy1_address: 10.0.0.5\nphone_password: s3cret\n",
        ),
        ("SIP00503EFFD842.cnf", "phone_label: FromFile\n"),
    ]);
    let addr = server.addr.to_string();
    let mut p = Phone::new(MAC, &["--tftp", &addr]);
    p.start();

    let locked = p.phonectl(&["set", "messages_uri", "9000"]);
    assert_eq!(locked.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&locked.stderr).contains("locked"));
    let wrong = p.phonectl(&["set", "messages_uri", "9000", "--password", "cisco"]);
    assert_eq!(wrong.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("wrong password"));

    p.ok(&["set", "messages_uri", "9000", "--password", "s3cret"]);
    p.ok(&["set", "phone_label", "Local", "--password", "s3cret"]);
    // Call preferences at 0/1 need no unlocking.
    p.ok(&["set", "dnd_control", "1"]);
    assert_eq!(
        p.param("messages_uri"),
        (Value::from("9000"), "flash".into())
    );
    assert_eq!(
        p.param("phone_label"),
        (Value::from("Local"), "flash".into())
    );

    p.reboot();
    // Not in any file: the local edit survives. Set by the phone-specific file: the file wins.
    assert_eq!(
        p.param("messages_uri"),
        (Value::from("9000"), "flash".into())
    );
    assert_eq!(p.param("dnd_control"), (Value::from(1), "flash".into()));
    assert_eq!(
        p.param("phone_label"),
        (Value::from("FromFile"), "SIP00503EFFD842.cnf:1".into())
    );

    // Erasing a SIP setting returns it to its default.
    p.ok(&["set", "messages_uri", "--password", "s3cret"]);
    assert_eq!(p.param("messages_uri"), (Value::Null, "default".into()));
}

#[test]
fn static_addressing_and_erase_configuration() {
    let (_root, server) = serve_tree(&[("SIPDefault.cnf", "proxy1_address: 10.0.0.5\n")]);
    let addr = server.addr.to_string();
    let mut p = Phone::new(MAC, &["--tftp", &addr]);
    p.start();
    let refused = p.phonectl(&["set", "ip_address", "10.1.1.10", "--password", "cisco"]);
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("DHCP"),
        "{refused:?}"
    );
    p.ok(&["set", "dhcp_enabled", "0", "--password", "cisco"]);
    p.ok(&["set", "ip_address", "10.1.1.10", "--password", "cisco"]);
    p.reboot();
    assert_eq!(p.param("dhcp_enabled"), (Value::from(0), "flash".into()));
    assert_eq!(p.param("ip_address").0, "10.1.1.10");
    p.ok(&["erase", "network", "--password", "cisco"]);
    assert_eq!(p.param("dhcp_enabled"), (Value::from(1), "default".into()));
    assert_eq!(p.param("ip_address").0, Value::Null);
}

#[test]
fn subscribers_see_changes_and_the_protocol_version_is_checked() {
    let (_root, server) = serve_tree(&[("SIPDefault.cnf", "proxy1_address: 10.0.0.5\n")]);
    let addr = server.addr.to_string();
    let mut p = Phone::new(MAC, &["--tftp", &addr]);
    p.start();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let runtime = RuntimeDir::new(&p.runtime);
        let mut ui = Client::<Provd>::connect(&runtime, "test-ui").await.unwrap();
        assert_eq!(ui.request(&Request::Subscribe).await.unwrap(), Reply::Ok);
        let mut other = Client::<Provd>::connect(&runtime, "test-phonectl")
            .await
            .unwrap();
        other
            .request(&Request::Unlock {
                password: "cisco".into(),
            })
            .await
            .unwrap();
        let r = other
            .request(&Request::Set {
                name: "start_media_port".into(),
                value: Some("20000".into()),
            })
            .await
            .unwrap();
        assert_eq!(
            r,
            Reply::Set {
                name: "start_media_port".into(),
                value: Value::from(20000)
            }
        );
        // The UI's own connection stays locked: unlocking is per session.
        let r = ui
            .request(&Request::Set {
                name: "phone_label".into(),
                value: Some("x".into()),
            })
            .await
            .unwrap();
        assert!(matches!(r, Reply::Error { .. }));
        let changed = loop {
            match tokio::time::timeout(Duration::from_secs(5), ui.next_event())
                .await
                .unwrap()
                .unwrap()
            {
                Some(Event::ConfigChanged { names }) => break names,
                Some(_) => continue,
                None => panic!("provd closed the connection"),
            }
        };
        assert_eq!(changed, vec!["start_media_port".to_string()]);

        // A client of another protocol version is refused with a clear error.
        let mut raw =
            tokio::net::UnixStream::connect(runtime.socket(deskphone_ipc::Service::Provd))
                .await
                .unwrap();
        deskphone_ipc::write_frame(
            &mut raw,
            &serde_json::json!({"request": "hello", "version": 99, "client": "old-ui"}),
        )
        .await
        .unwrap();
        let reply: Value = deskphone_ipc::read_frame(&mut raw).await.unwrap().unwrap();
        assert_eq!(reply["body"]["reply"], "error");
        assert!(reply["body"]["message"]
            .as_str()
            .unwrap()
            .contains("version 99"));
        // Garbage after a good hello gets an error reply, not a crash.
        let mut raw =
            tokio::net::UnixStream::connect(runtime.socket(deskphone_ipc::Service::Provd))
                .await
                .unwrap();
        deskphone_ipc::write_frame(
            &mut raw,
            &serde_json::json!({"request": "hello", "version": 1, "client": "fuzzer"}),
        )
        .await
        .unwrap();
        let _: Value = deskphone_ipc::read_frame(&mut raw).await.unwrap().unwrap();
        deskphone_ipc::write_frame(&mut raw, &serde_json::json!({"request": "format_the_disk"}))
            .await
            .unwrap();
        let reply: Value = deskphone_ipc::read_frame(&mut raw).await.unwrap().unwrap();
        assert_eq!(reply["body"]["reply"], "error");
    });
    assert!(p.status()["provisioning"]["state"] == "provisioned");
}
