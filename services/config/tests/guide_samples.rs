//! The guide's sample files load with the values they mean, and their defects are reported.

use deskphone_config::cnf::parse;
use deskphone_config::{Config, Diagnostic, FileRole, Mac, Severity, Source, Value};

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data");

fn load(files: &[(&str, &str, FileRole)]) -> (Config, Vec<Diagnostic>) {
    let mac: Mac = "00503EFFD842".parse().unwrap();
    let mut c = Config::new(mac);
    let mut diags = Vec::new();
    for (path, name, role) in files {
        let data = std::fs::read(format!("{DIR}/{path}")).unwrap();
        let parsed = parse(name, &data);
        diags.extend(parsed.diagnostics.clone());
        diags.extend(c.apply_file(name, *role, &parsed));
    }
    diags.extend(c.check_consistency("SIPDefault.cnf", "SIP00503EFFD842.cnf"));
    (c, diags)
}

fn lines_of(diags: &[Diagnostic], file: &str) -> Vec<u32> {
    diags
        .iter()
        .filter(|d| d.file == file)
        .map(|d| d.line)
        .collect()
}

#[test]
fn default_sample_means_what_it_says() {
    let (c, diags) = load(&[("guide-SIPDefault.cnf", "SIPDefault.cnf", FileRole::Default)]);
    let text = |n: &str| c.text(n).map(str::to_string);
    let int = |n: &str| c.int(n);
    assert_eq!(text("image_version").as_deref(), Some("P0S3-xx-y-zz"));
    assert_eq!(text("proxy1_address").as_deref(), Some("proxy.company.com"));
    for n in 2..=6 {
        assert_eq!(
            c.get(&format!("proxy{n}_address")),
            None,
            "proxy{n}_address is cleared"
        );
        assert_eq!(
            int(&format!("proxy{n}_port")),
            Some(5060),
            "proxy{n}_port cleared to its default"
        );
    }
    assert_eq!(int("proxy1_port"), Some(5060));
    assert_eq!(text("proxy_emergency").as_deref(), Some("1.2.3.4"));
    assert_eq!(int("proxy_emergency_port"), Some(5060));
    assert_eq!(
        text("proxy_backup").as_deref(),
        Some("1.2.3.4"),
        "unterminated quote still read"
    );
    assert_eq!(int("proxy_backup_port"), Some(5060));
    assert_eq!(int("proxy_register"), Some(1));
    assert_eq!(int("timer_register_expires"), Some(180));
    assert_eq!(text("preferred_codec").as_deref(), Some("g711ulaw"));
    assert_eq!(int("tos_media"), Some(5));
    assert_eq!(int("dtmf_inband"), Some(1));
    assert_eq!(text("dtmf_outofband").as_deref(), Some("avt"));
    assert_eq!(int("dtmf_db_level"), Some(3));
    assert_eq!((int("timer_t1"), int("timer_t2")), (Some(500), Some(4000)));
    assert_eq!(
        (int("sip_retx"), int("sip_invite_retx")),
        (Some(10), Some(6))
    );
    assert_eq!(int("timer_invite_expires"), Some(180));
    assert_eq!(text("messages_uri").as_deref(), Some("9195551000"));
    assert_eq!(text("tftp_cfg_dir").as_deref(), Some("./"));
    assert_eq!(text("sntp_mode").as_deref(), Some("directedbroadcast"));
    assert_eq!(text("sntp_server").as_deref(), Some("172.16.10.150"));
    assert_eq!(text("time_zone").as_deref(), Some("EST"));
    assert_eq!(text("dst_offset").as_deref(), Some("01/00"));
    assert_eq!(text("dst_start_month").as_deref(), Some("April"));
    assert_eq!(int("dst_start_day"), Some(0), "cleared: the relative rule");
    assert_eq!(text("dst_start_day_of_week").as_deref(), Some("Sunday"));
    assert_eq!(int("dst_start_week_of_month"), Some(1));
    assert_eq!(text("dst_start_time").as_deref(), Some("02/00"));
    assert_eq!(text("dst_stop_month").as_deref(), Some("October"));
    assert_eq!(int("dst_stop_day"), Some(0));
    assert_eq!(text("dst_stop_day_of_week").as_deref(), Some("Sunday"));
    assert_eq!(int("dst_stop_week_of_month"), Some(8));
    assert_eq!(text("dst_stop_time").as_deref(), Some("02/00"));
    assert_eq!(int("dst_auto_adjust"), Some(1));
    assert_eq!(int("dnd_control"), Some(0));
    assert_eq!(int("callerid_blocking"), Some(0));
    assert_eq!(int("anonymous_call_block"), Some(0));
    assert_eq!(int("dtmf_avt_payload"), Some(101));
    assert_eq!(text("dial_template").as_deref(), Some("dialplan"));
    assert_eq!(text("network_media_type").as_deref(), Some("Auto"));
    assert_eq!(int("autocomplete"), Some(1));
    assert_eq!(int("time_format_24hr"), Some(1));
    assert_eq!(int("enable_vad"), Some(0));
    assert_eq!(int("telnet_level"), Some(0));
    assert_eq!(text("phone_password").as_deref(), Some("cisco"));
    assert_eq!(
        text("services_url").as_deref(),
        Some("http://www.company.com/phone/services.asp")
    );
    assert_eq!(
        text("directory_url").as_deref(),
        Some("http://www.company.com/phone/companydirectory.asp")
    );
    assert_eq!(
        text("logo_url").as_deref(),
        Some("http://www.company.com/phone/logo.bmp")
    );
    assert_eq!(
        c.setting(deskphone_config::table::id("logo_url")).source,
        Source::File {
            name: "SIPDefault.cnf".into(),
            line: 119
        }
    );
    assert!(c.unknown().is_empty());

    // Its defects: typographic quotes (3, 119), the unterminated quote (26), four comment
    // lines that wrapped (45, 85, 88, 92); and no line1_name while proxy_register is 1.
    assert_eq!(
        lines_of(&diags, "SIPDefault.cnf"),
        vec![3, 26, 45, 85, 88, 92, 119]
    );
    assert_eq!(lines_of(&diags, "SIP00503EFFD842.cnf"), vec![0]);
    assert!(
        diags.iter().all(|d| d.severity == Severity::Warning),
        "{diags:#?}"
    );
}

#[test]
fn phone_specific_sample_over_the_default_sample() {
    let (c, diags) = load(&[
        ("guide-SIPDefault.cnf", "SIPDefault.cnf", FileRole::Default),
        (
            "guide-SIP00503EFFD842.cnf",
            "SIP00503EFFD842.cnf",
            FileRole::PhoneSpecific,
        ),
    ]);
    let names = ["43", "44", "duval", "46", "47", "48"];
    let displays = ["jdoe43", "jdoe44", "pgatour", "jdoe46", "jdoe47", "jdoe48"];
    for n in 1..=6 {
        assert_eq!(c.text(&format!("line{n}_name")), Some(names[n - 1]));
        assert_eq!(
            c.text(&format!("line{n}_displayname")),
            Some(displays[n - 1])
        );
        assert_eq!(c.get(&format!("line{n}_shortname")), None);
        assert_eq!(
            c.text(&format!("proxy{n}_address")),
            Some("1.2.3.4"),
            "phone file wins"
        );
        assert_eq!(c.int(&format!("proxy{n}_port")), Some(5060));
    }
    assert_eq!(c.text("phone_label"), Some("jdoe4X"));
    assert_eq!(c.text("phone_prompt"), Some("John-43"));
    assert_eq!(c.int("callerid_blocking"), Some(0));
    assert_eq!(c.text("dtmf_outofband"), Some("avt"));
    assert_eq!(c.text("network_media_type"), Some("Auto"));
    assert_eq!(c.int("call_waiting"), Some(1));
    assert_eq!(c.int("cnf_join_enable"), Some(1));
    assert_eq!(c.int("semi_attended_transfer"), Some(1));
    assert_eq!(
        c.setting(deskphone_config::table::id("proxy1_address"))
            .source
            .to_string(),
        "SIP00503EFFD842.cnf:16"
    );
    assert_eq!(
        c.setting(deskphone_config::table::id("image_version"))
            .source
            .to_string(),
        "SIPDefault.cnf:3"
    );
    assert!(
        lines_of(&diags, "SIP00503EFFD842.cnf").is_empty(),
        "{diags:#?}"
    );
}

#[test]
fn dst_samples() {
    let (c, diags) = load(&[(
        "guide-dst-absolute.cnf",
        "SIPDefault.cnf",
        FileRole::Default,
    )]);
    assert_eq!(c.text("time_zone"), Some("PST"));
    assert_eq!(c.int("dst_start_day"), Some(1));
    assert_eq!(c.int("dst_stop_day"), Some(1));
    assert_eq!(c.text("dst_stop_time"), Some("02/00"));
    // dst_stop_autoadjust is not a parameter: kept, warned, with the right name suggested.
    assert_eq!(c.unknown()["dst_stop_autoadjust"].value, "1");
    let d = diags.iter().find(|d| d.line == 9).unwrap();
    assert!(d.message.contains("dst_auto_adjust"), "{}", d.message);

    let (c, diags) = load(&[(
        "guide-dst-relative.cnf",
        "SIPDefault.cnf",
        FileRole::Default,
    )]);
    assert_eq!(c.int("dst_start_day"), Some(0));
    assert_eq!(c.text("dst_start_day_of_week"), Some("Sunday"));
    assert_eq!(c.int("dst_stop_week_of_month"), Some(8));
    assert_eq!(c.unknown()["dst_stop_autoadjust"].value, "");
    assert!(diags.iter().any(|d| d.line == 13));
    assert_eq!(c.get("dst_auto_adjust"), Some(&Value::Int(1)));
}
