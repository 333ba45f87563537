//! `phonectl lint`: the contract administrators' scripts rely on.

use deskphone_e2e::{phonectl, serve_tree, workspace, write_tree, Phone};
use serde_json::Value;

fn lint_json(root: &std::path::Path, mac: &str, extra: &[&str]) -> (i32, Value) {
    let root = root.to_str().unwrap();
    let mut args = vec!["lint", root, "--mac", mac, "--json"];
    args.extend_from_slice(extra);
    let out = phonectl(&args);
    let json = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "lint --json is not JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    });
    (out.status.code().unwrap(), json)
}

#[test]
fn the_sample_tree_lints_clean_with_the_documented_shape() {
    let (code, j) = lint_json(&workspace().join("examples/tftp"), "52:54:00:12:34:56", &[]);
    assert_eq!(code, 0, "{j:#}");
    assert_eq!(j["mac"], "525400123456");
    let files: Vec<(&str, bool)> = j["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["name"].as_str().unwrap(), f["found"].as_bool().unwrap()))
        .collect();
    assert!(files.contains(&("SIPDefault.cnf", true)));
    assert!(files.contains(&("SIP525400123456.cnf", true)));
    assert!(files.contains(&("dialplan.xml", true)));
    assert!(files.contains(&("syncinfo.xml", true)));

    // Every parameter of the model, typed.
    let params = j["parameters"].as_object().unwrap();
    for def in deskphone_config::params() {
        let p = &params[def.name];
        assert!(
            p.get("value").is_some() && p["source"].is_string(),
            "{}: {p}",
            def.name
        );
    }
    assert_eq!(params.len(), deskphone_config::params().len());
    assert_eq!(
        params["timer_t1"],
        serde_json::json!({"value": 500, "source": "SIPDefault.cnf:24"})
    );
    assert_eq!(
        params["network_media_type"],
        serde_json::json!({"value": "Auto", "source": "default"})
    );
    assert_eq!(params["line1_name"]["value"], "1001");
    assert_eq!(params["line3_name"]["value"], Value::Null);
    assert_eq!(params["dst_start_month"]["value"], "March");

    // Only the firmware bundle (a build output, not in the repository) is missing.
    let diags = j["diagnostics"].as_array().unwrap();
    assert!(
        diags.iter().all(|d| d["severity"] == "warning"),
        "{diags:#?}"
    );
    assert!(
        diags
            .iter()
            .all(|d| d["file"].as_str().unwrap().ends_with(".bin")),
        "{diags:#?}"
    );
    for d in diags {
        assert!(d["line"].is_u64() && d["message"].is_string());
    }
}

#[test]
fn the_guides_samples_as_a_tree() {
    let data = workspace().join("services/config/tests/data");
    let root = tempfile::tempdir().unwrap();
    std::fs::copy(
        data.join("guide-SIPDefault.cnf"),
        root.path().join("SIPDefault.cnf"),
    )
    .unwrap();
    std::fs::copy(
        data.join("guide-SIP00503EFFD842.cnf"),
        root.path().join("SIP00503EFFD842.cnf"),
    )
    .unwrap();
    let (code, j) = lint_json(root.path(), "00503effd842", &[]);
    assert_eq!(code, 0, "bad lines are warnings: the phone boots");
    let p = &j["parameters"];
    assert_eq!(
        p["proxy_backup"],
        serde_json::json!({"value": "1.2.3.4", "source": "SIPDefault.cnf:26"})
    );
    // Cleared by SIPDefault.cnf, set again by the phone-specific file.
    assert_eq!(
        p["proxy2_address"],
        serde_json::json!({"value": "1.2.3.4", "source": "SIP00503EFFD842.cnf:17"})
    );
    assert_eq!(p["dtmf_avt_payload"]["value"], 101);
    assert_eq!(p["line3_name"]["value"], "duval");
    let at = |file: &str, line: u64| {
        j["diagnostics"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["file"] == file && d["line"] == line)
    };
    assert!(at("SIPDefault.cnf", 26), "missing closing quote reported");
    assert!(at("SIPDefault.cnf", 45), "wrapped comment line reported");
    // dialplan.xml is named by dial_template but absent.
    assert!(j["files"]
        .as_array()
        .unwrap()
        .contains(&serde_json::json!({"name": "dialplan.xml", "found": false})));
}

#[test]
fn exit_status_distinguishes_usable_unusable_and_usage() {
    let empty = tempfile::tempdir().unwrap();
    let (code, j) = lint_json(empty.path(), "00503effd842", &[]);
    assert_eq!(code, 1, "nothing to provision from: {j:#}");
    assert!(j["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .any(|d| d["severity"] == "error"));

    assert_eq!(
        phonectl(&["lint", "/nonexistent/tree", "--mac", "00503effd842"])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(
        phonectl(&["lint", empty.path().to_str().unwrap(), "--mac", "not-a-mac"])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(
        phonectl(&["lint", empty.path().to_str().unwrap()])
            .status
            .code(),
        Some(2)
    );

    // Unknown keys and bad values are warnings: still 0, and unknown keys are kept.
    write_tree(
        empty.path(),
        &[(
            "SIPDefault.cnf",
            "proxy1_address: p\nfuture_param: 7\ntos_media: 9\n",
        )],
    );
    let (code, j) = lint_json(empty.path(), "00503effd842", &[]);
    assert_eq!(code, 0);
    assert_eq!(
        j["unknown_parameters"]["future_param"],
        serde_json::json!({"value": "7", "source": "SIPDefault.cnf:2"})
    );
    assert_eq!(j["parameters"]["tos_media"]["value"], 5);
}

#[test]
fn lint_starts_from_a_phones_flash() {
    let (root, server) = serve_tree(&[
        ("SIPDefault.cnf", "proxy1_address: 10.0.0.5\n"),
        ("SIP00503EFFD842.cnf", "line1_name: 43\n"),
    ]);
    let addr = server.addr.to_string();
    let mut p = Phone::new("00503EFFD842", &["--tftp", &addr]);
    p.start();
    p.stop();
    // The phone-specific file is gone; the phone (and the lint) keep line1_name from flash.
    std::fs::remove_file(root.path().join("SIP00503EFFD842.cnf")).unwrap();
    let flash = p.state.join("flash");
    let (code, j) = lint_json(
        root.path(),
        "00503effd842",
        &["--flash", flash.to_str().unwrap()],
    );
    assert_eq!(code, 0);
    assert_eq!(
        j["parameters"]["line1_name"],
        serde_json::json!({"value": "43", "source": "flash"})
    );
    assert_eq!(
        j["parameters"]["proxy1_address"]["source"],
        "SIPDefault.cnf:1"
    );
}

#[test]
fn text_output_names_files_lines_and_sources() {
    let out = phonectl(&[
        "lint",
        workspace().join("examples/tftp").to_str().unwrap(),
        "--mac",
        "525400123456",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("SIP525400123456.cnf              found"),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.contains("line1_name") && l.contains("SIP525400123456.cnf:3")),
        "{text}"
    );
}
