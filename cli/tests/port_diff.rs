//! `wechatpay port-diff`: recordings made by wechatpay-mock (`ServerBuilder::record`) of the port-check example's
//! calls (examples/port_check/port.rs, through the library), and edited copies of them standing in for the PHP side
//! (PHP is not available here): the same calls compare equal, and every kind of difference is reported.

#[path = "../../examples/port_check/port.rs"]
mod port;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};
use wechatpay::Builder;
use wechatpay_mock::{Identities, Server};

const OUT_TRADE_NO: &str = "1217752501201407033233368018";

/// A simulator with the process-wide shared identities, recording to `path`.
fn recording_mock(path: &Path) -> Server {
    Server::builder()
        .identities(Identities::shared().expect("identities"))
        .record(path)
        .start_blocking()
        .expect("mock starts")
}

/// The PHP SDK's config array for the simulator, APIv2 and mutual TLS included.
fn instance(server: &Server) -> Builder {
    let ids = server.identities();
    Builder::factory(json!({
        "mchid": ids.mchid,
        "serial": ids.merchant.serial,
        "privateKey": ids.merchant.private_key_pem,
        "certs": {ids.platform.serial.clone(): ids.platform.certificate_pem},
        "secret": ids.apiv2_key,
        "merchant": {"cert": ids.merchant.certificate_pem, "key": ids.merchant.private_key_pem},
        "base_uri": server.base_uri(),
        "verify": server.tls_ca_pem(),
    }))
    .expect("config")
}

/// Records the example's calls for `out_trade_no`, then `more` (further calls), into `dir/name`.
fn record(dir: &Path, name: &str, out_trade_no: &str, more: impl FnOnce(&Builder, &Server)) -> PathBuf {
    let path = dir.join(name);
    let server = recording_mock(&path);
    let instance = instance(&server);
    port::checkout(&instance, &server.identities().mchid, out_trade_no).expect("the example's calls succeed");
    more(&instance, &server);
    path
}

fn read(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).expect("recording");
    text.lines().map(|line| serde_json::from_str(line).expect("a JSON line")).collect()
}

fn write(dir: &Path, name: &str, lines: &[Value]) -> PathBuf {
    let path = dir.join(name);
    let text: String = lines.iter().map(|line| format!("{line}\n")).collect();
    std::fs::write(&path, text).expect("written");
    path
}

/// What a run of `wechatpay port-diff` printed.
#[derive(Debug)]
struct Run {
    status: i32,
    stdout: String,
    stderr: String,
}

fn port_diff(a: &Path, b: &Path, flags: &[&str]) -> Run {
    let output = Command::new(env!("CARGO_BIN_EXE_wechatpay"))
        .arg("port-diff")
        .arg(a)
        .arg(b)
        .args(flags)
        .output()
        .expect("wechatpay runs");
    Run {
        status: output.status.code().expect("exited"),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// `--json`'s differences, as (kind, message).
fn differences(a: &Path, b: &Path, flags: &[&str]) -> Vec<(String, String)> {
    let mut flags = flags.to_vec();
    flags.push("--json");
    let run = port_diff(a, b, &flags);
    let report: Value = serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {run:?}"));
    assert_eq!(report["equivalent"], run.status == 0, "{run:?}");
    report["differences"]
        .as_array()
        .expect("differences")
        .iter()
        .map(|d| {
            (d["kind"].as_str().unwrap_or_default().to_owned(), d["message"].as_str().unwrap_or_default().to_owned())
        })
        .collect()
}

#[test]
fn two_recordings_of_the_same_calls_compare_equal() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let first = record(dir.path(), "php.jsonl", OUT_TRADE_NO, |_, _| {});
    let second = record(dir.path(), "rust.jsonl", OUT_TRADE_NO, |_, _| {});
    let lines = read(&first);
    let kinds: Vec<(&str, &str)> = lines
        .iter()
        .map(|l| (l["api"].as_str().unwrap_or_default(), l["template"].as_str().unwrap_or_default()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("v3", "/v3/pay/transactions/native"),
            ("v3", "/v3/pay/transactions/out-trade-no/{out_trade_no}"),
            ("v3", "/v3/pay/transactions/out-trade-no/{out_trade_no}/close"),
            ("v3", "/v3/merchant/media/upload"),
            ("v2", "/pay/unifiedorder"),
        ]
    );
    assert!(lines.iter().all(|l| l["signature"] == "valid"), "{lines:#?}");
    // Each run has its own multipart boundary, nonces, timestamps and signatures: none of them is compared.
    assert_ne!(lines[3]["headers"]["Content-Type"], read(&second)[3]["headers"]["Content-Type"]);

    let run = port_diff(&first, &second, &[]);
    assert_eq!(run.status, 0, "{run:?}");
    assert!(run.stdout.contains("php = "), "{run:?}");
    assert!(run.stdout.contains("equivalent: rust sends what php sent (5 calls"), "{run:?}");
    assert!(run.stderr.is_empty(), "{run:?}");
    assert_eq!(differences(&first, &second, &[]), []);

    // What a PHP client sends differently by nature, harmlessly: User-Agent, Accept, header order, JSON key order
    // and whitespace, Content-Type parameters, a Content-Type on a GET.
    let mut php = read(&first);
    for line in &mut php {
        line["headers"]["User-Agent"] = json!("wechatpay-php/1.4.12 GuzzleHttp/7 curl/8.5.0 (Linux/6.1) PHP/8.3.6");
        line["headers"]["Accept"] = json!("application/json, text/plain, application/x-gzip");
        line["header_order"] = json!(["host", "user-agent", "content-type", "accept", "authorization"]);
        if line["api"] == "v3" && line["body"].get("multipart").is_none() {
            line["headers"]["Content-Type"] = json!("application/json; charset=utf-8");
        }
    }
    let reversed = |value: &Value| -> Value {
        let object = value.as_object().expect("an object");
        Value::Object(object.iter().rev().map(|(key, value)| (key.clone(), value.clone())).collect())
    };
    php[0]["body"]["json"] = reversed(&php[0]["body"]["json"]);
    php[0]["body"]["json"]["amount"] = reversed(&php[0]["body"]["json"]["amount"]);
    let php = write(dir.path(), "php-client.jsonl", &php);
    assert!(
        std::fs::read_to_string(&php).expect("written").contains(r#"{"json":{"amount":{"currency":"CNY","total":1}"#)
    );
    let run = port_diff(&php, &second, &[]);
    assert_eq!(run.status, 0, "{run:?}");
    // The upload's parts are compared for their media type without parameters, too.
    let mut charset = read(&first);
    charset[3]["body"]["multipart"][0]["content_type"] = json!("application/json; charset=UTF-8");
    assert_eq!(differences(&write(dir.path(), "charset.jsonl", &charset), &second, &[]), []);
}

/// An edit of the recording and what port-diff must say about it.
struct Case {
    edit: fn(&mut Vec<Value>),
    kind: &'static str,
    message: &'static str,
}

#[test]
fn each_kind_of_difference_is_reported_in_a_porters_words() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let rust = record(dir.path(), "rust.jsonl", OUT_TRADE_NO, |_, _| {});
    let cases = [
        Case { edit: |l| drop(l.remove(2)), kind: "extra_call", message: "called by rust (line 3), not by php" },
        Case { edit: |l| l.insert(1, l[1].clone()), kind: "missing_call", message: ", not by rust" },
        Case {
            edit: |l| {
                l[2]["method"] = json!("POST");
                l[2]["template"] = json!("/v3/pay/transactions/id/{transaction_id}/close");
            },
            kind: "path",
            message: "php called POST /v3/pay/transactions/id/{transaction_id}/close, rust POST \
                      /v3/pay/transactions/out-trade-no/{out_trade_no}/close",
        },
        Case {
            edit: |l| l[1]["params"]["out_trade_no"] = json!("1217752501201407033233368019"),
            kind: "placeholder",
            message: r#"path {out_trade_no}: "1217752501201407033233368019" in php, "1217752501201407033233368018" in rust"#,
        },
        Case {
            edit: |l| l[1]["query"]["mchid"] = json!("1900000109"),
            kind: "query_value",
            message: r#"query mchid: "1900000109" in php, "#,
        },
        Case {
            edit: |l| l[1]["query"]["limit"] = json!("10"),
            kind: "query_missing",
            message: r#"query limit: "10" in php, not sent by rust"#,
        },
        Case { edit: |l| l[1]["query"] = json!({}), kind: "query_extra", message: "query mchid: not sent by php, " },
        Case {
            edit: |l| l[0]["body"]["json"]["amount"]["total"] = json!("1"),
            kind: "field_type",
            message: r#"body amount.total: "1" (a string) in php, 1 (a number) in rust"#,
        },
        Case {
            edit: |l| l[0]["body"]["json"]["scene_info"] = json!({"payer_client_ip": "14.23.150.211"}),
            kind: "field_missing",
            message: r#"body scene_info: {"payer_client_ip":"14.23.150.211"} in php, missing in rust"#,
        },
        Case {
            edit: |l| drop(l[0]["body"]["json"]["amount"].as_object_mut().map(|a| a.remove("currency"))),
            kind: "field_extra",
            message: r#"body amount.currency: missing in php, "CNY" in rust"#,
        },
        Case {
            edit: |l| l[0]["body"]["json"]["description"] = json!("Image形象店"),
            kind: "field_value",
            message: r#"body description: "Image形象店" in php, "Image形象店-深圳腾大-QQ公仔" in rust"#,
        },
        Case {
            edit: |l| l[0]["body"]["json"]["detail"] = json!({"goods_detail": [{"quantity": 1}, {"quantity": 2}]}),
            kind: "field_missing",
            message: "body detail: ",
        },
        Case {
            edit: |l| l[2]["body"] = Value::Null,
            kind: "body",
            message: "body: php sends no body, rust a JSON body",
        },
        Case {
            edit: |l| {
                l[0]["headers"]["Wechatpay-Serial"] = json!("PUB_KEY_ID_0114232134912410000000000000000");
                l[0]["wechatpay_serial"] = json!("public_key");
            },
            kind: "serial",
            message: "Wechatpay-Serial: php sent PUB_KEY_ID_0114232134912410000000000000000 (the WeChat Pay public key), \
                      rust none",
        },
        Case {
            edit: |l| l[0]["headers"]["Content-Type"] = json!("text/plain; charset=utf-8"),
            kind: "media_type",
            message: "Content-Type: text/plain in php, application/json in rust",
        },
        Case {
            edit: |l| {
                l[1]["signature"] = json!("invalid");
                l[1]["signature_problem"] = json!("timestamp 1554208460 is outside the allowed window");
            },
            kind: "signature",
            message: "signature: php's request is signed, but it does not verify (timestamp 1554208460 is outside the \
                      allowed window); rust's is signed, and it verifies",
        },
        Case {
            edit: |l| l[4]["signature"] = json!("absent"),
            kind: "signature",
            message: "signature: php's request is not signed; rust's is signed, and it verifies",
        },
        Case {
            edit: |l| l[4]["transport"] = json!("mutual-tls"),
            kind: "transport",
            message: "php came over mutual TLS (merchant certificate presented), rust without the merchant certificate",
        },
        Case {
            edit: |l| l[4]["nonce"] = json!("absent"),
            kind: "nonce",
            message: "nonce_str: absent in php, present in rust",
        },
        Case {
            edit: |l| l[4]["body"]["xml"]["sign_type"] = json!("HMAC-SHA256"),
            kind: "field_missing",
            message: r#"xml sign_type: "HMAC-SHA256" in php, missing in rust"#,
        },
        Case {
            edit: |l| l[4]["body"]["xml"]["total_fee"] = json!("100"),
            kind: "field_value",
            message: r#"xml total_fee: "100" in php, "1" in rust"#,
        },
        Case {
            edit: |l| l[4]["api"] = json!("v3"),
            kind: "api",
            message: "php makes an APIv3 call, rust an APIv2 call",
        },
        Case {
            edit: |l| l[3]["body"]["multipart"][1]["sha256"] = json!("0123456789abcdef0123456789abcdef"),
            kind: "part_content",
            message: "part file: the content differs (33 bytes, sha256 0123456789abcdef... in php; 33 bytes, sha256",
        },
        Case {
            edit: |l| l[3]["body"]["multipart"][1]["filename"] = json!("logo.PNG"),
            kind: "part_filename",
            message: r#"part file: file name "logo.PNG" in php, "logo.png" in rust"#,
        },
        Case {
            edit: |l| l[3]["body"]["multipart"][1]["content_type"] = json!("application/octet-stream"),
            kind: "part_media_type",
            message: "part file: Content-Type application/octet-stream in php, image/png in rust",
        },
        Case {
            edit: |l| l[3]["body"]["multipart"][0]["json"]["filename"] = json!("logo.jpg"),
            kind: "field_value",
            message: r#"meta filename: "logo.jpg" in php, "logo.png" in rust"#,
        },
        Case {
            edit: |l| drop(l[3]["body"]["multipart"].as_array_mut().map(|parts| parts.remove(1))),
            kind: "part_extra",
            message: "part file: not sent by php, sent by rust",
        },
        Case {
            edit: |l| l[1]["headers"]["Accept-Language"] = json!("en"),
            kind: "header",
            message: r#"Accept-Language: "en" in php, not sent in rust"#,
        },
    ];
    for (i, case) in cases.iter().enumerate() {
        let mut php = read(&rust);
        (case.edit)(&mut php);
        let case_dir = dir.path().join(format!("case{i}"));
        std::fs::create_dir(&case_dir).expect("created");
        let php = write(&case_dir, "php.jsonl", &php);
        let found = differences(&php, &rust, &[]);
        assert!(
            found.iter().any(|(kind, message)| kind == case.kind && message.contains(case.message)),
            "case {i} ({}): {found:#?}",
            case.kind
        );
        assert!(found.len() <= 2, "case {i}: one edit, one difference (two for a duplicated call): {found:#?}");
        let run = port_diff(&php, &rust, &[]);
        assert_eq!(run.status, 1, "case {i}: {run:?}");
        assert!(run.stdout.contains(case.message), "case {i}: {run:?}");
        assert!(run.stderr.contains("differ: "), "case {i}: {run:?}");
    }
}

#[test]
fn unordered_pairing_and_values_compared_by_presence_only() {
    let dir = tempfile::tempdir().expect("temporary directory");
    // Two real runs for two different orders: the ids differ in the path, the body and the APIv2 fields.
    let php = record(dir.path(), "php.jsonl", OUT_TRADE_NO, |_, _| {});
    let rust = record(dir.path(), "rust.jsonl", "1217752501201407033233368099", |_, _| {});
    let found = differences(&php, &rust, &[]);
    let kinds: Vec<&str> = found.iter().map(|(kind, _)| kind.as_str()).collect();
    assert_eq!(kinds, ["field_value", "placeholder", "placeholder", "field_value"], "{found:#?}");
    assert_eq!(differences(&php, &rust, &["--ignore", "out_trade_no"]), []);
    let run = port_diff(&php, &rust, &["--ignore", "out_trade_no"]);
    assert_eq!(run.status, 0, "{run:?}");
    assert!(run.stdout.contains("compared by presence only: out_trade_no"), "{run:?}");

    // The same calls in another order: in order, an endpoint at another place is another call.
    let mut shuffled = read(&php);
    shuffled.rotate_left(2);
    let shuffled = write(dir.path(), "shuffled.jsonl", &shuffled);
    let found = differences(&shuffled, &php, &[]);
    assert!(found.iter().any(|(kind, _)| kind == "missing_call"), "{found:#?}");
    assert!(found.iter().any(|(kind, _)| kind == "extra_call"), "{found:#?}");
    let run = port_diff(&shuffled, &php, &["--unordered"]);
    assert_eq!(run.status, 0, "{run:?}");
    assert!(run.stdout.contains("paired by endpoint"), "{run:?}");

    // Presence is still compared; a dotted path reaches one field only; array elements by [] or [n].
    let mut edited = read(&php);
    edited[0]["body"]["json"]["amount"]["total"] = json!("1");
    edited[0]["body"]["json"]["detail"] = json!({"goods_detail": [{"quantity": 1}]});
    let edited = write(dir.path(), "edited.jsonl", &edited);
    let mut with_detail = read(&php);
    with_detail[0]["body"]["json"]["detail"] = json!({"goods_detail": [{"quantity": 2}]});
    let with_detail = write(dir.path(), "detail.jsonl", &with_detail);
    fn ignore<'a>(patterns: &[&'a str]) -> Vec<&'a str> {
        patterns.iter().flat_map(|p| ["--ignore", p]).collect()
    }
    let found = differences(&edited, &with_detail, &ignore(&["amount.total"]));
    assert_eq!(found.len(), 1, "{found:#?}");
    assert!(found[0].1.contains("body detail.goods_detail[0].quantity: 1 in edited, 2 in detail"), "{found:#?}");
    assert_eq!(differences(&edited, &with_detail, &ignore(&["amount.total", "detail.goods_detail[].quantity"])), []);
    assert_eq!(differences(&edited, &with_detail, &ignore(&["total", "goods_detail[0].quantity"])).len(), 1);
    assert_eq!(differences(&edited, &with_detail, &ignore(&["total", "detail.goods_detail[0].quantity"])), []);
    assert_eq!(differences(&edited, &with_detail, &ignore(&["amount.total", "detail"])), []);
    let found = differences(&edited, &php, &ignore(&["amount.total", "quantity"]));
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].0, "field_missing");
    assert!(found[0].1.contains("body detail: "), "{found:#?}");

    let run = port_diff(&php, &rust, &["--ignore", "detail..x"]);
    assert_eq!(run.status, 2, "{run:?}");
    assert!(run.stderr.contains("--ignore `detail..x`"), "{run:?}");
}

#[test]
fn apiv2_over_mutual_tls_and_answers_are_recorded_and_compared() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let refund = |security: bool| {
        move |instance: &Builder, server: &Server| {
            let mut options = json!({"xml": {
                "appid": port::APPID, "mch_id": server.identities().mchid,
                "out_trade_no": format!("{OUT_TRADE_NO}V2"), "out_refund_no": format!("{OUT_TRADE_NO}R1"),
                "total_fee": 1, "refund_fee": 1,
            }});
            if security {
                options["security"] = json!(true);
                options["base_uri"] = json!(server.tls_base_uri());
            }
            // The payer pays the example's APIv2 order, which can then be refunded.
            server.v2_payment_notification(&format!("{OUT_TRADE_NO}V2")).expect("paid");
            // The simulator serves `security` endpoints on its plain listener too; WeChat Pay would refuse.
            instance.v2().secapi().pay().refund().post(options).expect("refund accepted");
            // A query for an order this run never made: the simulator answers 404 to one run and 200 to the other.
            let no = if security { OUT_TRADE_NO } else { "1217752501201407033233368077" };
            let query = json!({"query": {"mchid": server.identities().mchid}, "out_trade_no": no});
            let _ = instance.v3().pay().transactions().out_trade_no()._out_trade_no_().get(query);
        }
    };
    let php = record(dir.path(), "php.jsonl", OUT_TRADE_NO, refund(true));
    let rust = record(dir.path(), "rust.jsonl", OUT_TRADE_NO, refund(false));
    let lines = read(&php);
    assert_eq!(lines[5]["transport"], "mutual-tls");
    assert_eq!(lines[5]["api"], "v2");
    assert_eq!(read(&rust)[5]["transport"], "http");
    let run = port_diff(&php, &rust, &["--ignore", "out_trade_no", "--json"]);
    let report: Value = serde_json::from_str(&run.stdout).expect("JSON");
    assert_eq!(run.status, 1, "{run:?}");
    assert_eq!(report["a"], json!({"file": php.display().to_string(), "label": "php", "calls": 7}));
    let differences = report["differences"].as_array().expect("differences");
    assert_eq!(differences.len(), 1, "{report:#}");
    assert_eq!(differences[0]["kind"], "transport");
    assert_eq!(differences[0]["call"], "POST /secapi/pay/refund");
    assert_eq!((differences[0]["a_line"].as_u64(), differences[0]["b_line"].as_u64()), (Some(6), Some(6)));
    assert_eq!((differences[0]["a"].as_str(), differences[0]["b"].as_str()), (Some("mutual-tls"), Some("http")));
    let notes = report["notes"].as_array().expect("notes");
    assert_eq!(notes.len(), 1, "{report:#}");
    assert_eq!(notes[0]["message"], "the simulator answered 200 to php, 404 ORDER_NOT_EXIST to rust");
    let text = port_diff(&php, &rust, &["--ignore", "out_trade_no"]);
    assert!(text.stdout.contains("  note: the simulator answered 200 to php, 404 ORDER_NOT_EXIST to rust"));
}

#[test]
fn unreadable_recordings_are_usage_errors_and_a_cut_last_line_is_left_out() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let rust = record(dir.path(), "rust.jsonl", OUT_TRADE_NO, |_, _| {});
    let text = std::fs::read_to_string(&rust).expect("recording");

    let run = port_diff(&dir.path().join("nowhere.jsonl"), &rust, &[]);
    assert_eq!(run.status, 2, "{run:?}");
    assert!(run.stderr.contains("cannot read the recording"), "{run:?}");

    let not_json = dir.path().join("log.jsonl");
    std::fs::write(&not_json, format!("{text}GET /v3/certificates HTTP/1.1\n")).expect("written");
    let run = port_diff(&not_json, &rust, &[]);
    assert_eq!(run.status, 2, "{run:?}");
    assert!(run.stderr.contains("line 6 is not JSON"), "{run:?}");

    let newer = dir.path().join("newer.jsonl");
    std::fs::write(&newer, text.replacen(r#""format":1"#, r#""format":2"#, 1)).expect("written");
    let run = port_diff(&rust, &newer, &[]);
    assert_eq!(run.status, 2, "{run:?}");
    assert!(run.stderr.contains("line 1: format 2 is not the format 1"), "{run:?}");

    // The simulator stopped while writing its last line: that line is left out, with a warning.
    let last = text.lines().last().expect("a line");
    let cut = dir.path().join("cut.jsonl");
    std::fs::write(&cut, format!("{text}{}", &last[..last.len() / 2])).expect("written");
    let run = port_diff(&cut, &rust, &[]);
    assert_eq!(run.status, 0, "{run:?}");
    assert!(run.stderr.contains("line 6 is cut short"), "{run:?}");
}
