//! The port check's recording (`ServerBuilder::record`, `--record FILE`): one JSON line per request, in the
//! documented format, for requests that pass and fail the checks, uploads, APIv2 and faults.

mod common;

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::{Client, ids, nonce, now};
use serde_json::{Value, json};
use sha2::Digest as _;
use wechatpay_mock::{Fault, Server, apiv2};

fn temp_path(name: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    std::env::temp_dir().join(format!("wechatpay-mock-record-{name}-{}-{nanos}", std::process::id()))
}

fn lines(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).expect("the recording exists");
    assert!(text.is_empty() || text.ends_with('\n'), "whole lines only: {text:?}");
    text.lines().map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"))).collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test]
async fn every_request_becomes_one_line_with_what_a_porter_compares() {
    let path = temp_path("v3");
    let server = Server::builder().identities(ids()).record(&path).start().await.expect("server");
    assert_eq!(std::fs::read(&path).expect("created at start").len(), 0);
    let client = Client::new(&server);
    let ids = server.identities().clone();
    let order = json!({
        "appid": "wxd678efh567hg6787", "mchid": ids.mchid, "description": "Image形象店-深圳腾大-QQ公仔",
        "out_trade_no": "1217752501201407033233368018", "notify_url": "https://www.weixin.qq.com/wxpay/pay.php",
        "amount": {"total": 100, "currency": "CNY"},
    });
    // 1. A signed JSON POST naming the platform certificate.
    let created = client
        .call_with(
            "POST",
            "/v3/pay/transactions/native",
            Some(&order),
            &[("Wechatpay-Serial", ids.platform.serial.clone())],
        )
        .await;
    assert_eq!(created.status, 200, "{}", created.message());
    // 2. A signed GET with a path placeholder and a query.
    let target = format!("/v3/pay/transactions/out-trade-no/1217752501201407033233368018?mchid={}", ids.mchid);
    assert_eq!(client.call("GET", &target, None).await.status, 200);
    // 3. Unsigned, 4. signed wrongly, 5. replayed: the server refuses all three.
    assert_eq!(client.raw("GET", &target, &[], Vec::new()).await.expect("answer").status, 401);
    let wrong = client.authorization_with("GET", "/v3/certificates", b"", now(), &nonce());
    let refused = client.raw("GET", &target, &[("Authorization", wrong)], Vec::new()).await.expect("answer");
    assert_eq!(refused.code(), "SIGN_ERROR");
    let once = client.authorization("GET", &target, b"");
    let (first, again) = (
        client.raw("GET", &target, &[("Authorization", once.clone())], Vec::new()).await.expect("answer"),
        client.raw("GET", &target, &[("Authorization", once)], Vec::new()).await.expect("answer"),
    );
    assert_eq!((first.status, again.status), (200, 401));
    // 6. An upload: multipart, signed over its meta part.
    let file = b"\x89PNG\r\n\x1a\n fake image".to_vec();
    let meta = format!(r#"{{"filename":"logo.png","sha256":"{}"}}"#, hex(&sha2::Sha256::digest(&file)));
    let mut body = format!(
        "--B0undary\r\nContent-Disposition: form-data; name=\"meta\"\r\nContent-Type: application/json\r\n\r\n{meta}\r\n\
         --B0undary\r\nContent-Disposition: form-data; name=\"file\"; filename=\"logo.png\"\r\nContent-Type: image/png\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(&file);
    body.extend_from_slice(b"\r\n--B0undary--\r\n");
    let upload_auth = client.authorization("POST", "/v3/merchant/media/upload", meta.as_bytes());
    let headers = [
        ("Authorization", upload_auth),
        ("Content-Type", "multipart/form-data; boundary=B0undary".to_owned()),
        ("Wechatpay-Serial", ids.public_key.id.clone()),
    ];
    let uploaded = client.raw("POST", "/v3/merchant/media/upload", &headers, body).await.expect("answer");
    assert_eq!(uploaded.status, 200, "{}", uploaded.message());
    // 7. APIv2, signed and nonce'd; 8. APIv2 signed with the wrong key and without a nonce.
    let query = [("appid", "wx2421b1c4370ec43b"), ("mch_id", ids.mchid.as_str()), ("out_trade_no", "NONE")];
    let mut fields = query.to_vec();
    fields.push(("nonce_str", "5K8264ILTKCH16CQ2502SI8ZNMTM67VS"));
    let xml = |body: Vec<u8>| async {
        client.raw("POST", "/pay/orderquery", &[("Content-Type", "text/xml".to_owned())], body).await.expect("answer")
    };
    xml(apiv2::sign_xml(&fields, &ids.apiv2_key)).await;
    xml(apiv2::sign_xml(&query, "not-the-key")).await;
    // 9. A request the connection is dropped on, with a Wechatpay-Serial the server does not know.
    server.faults().next(Fault::DropConnection);
    let dropped = client.raw("GET", "/v3/certificates", &[("Wechatpay-Serial", "0123".to_owned())], Vec::new()).await;
    assert!(dropped.is_err());

    let lines = lines(&path);
    assert_eq!(lines.len(), 10, "{lines:#?}");
    for (i, line) in lines.iter().enumerate() {
        assert_eq!(line["format"], 1);
        assert_eq!(line["seq"], i + 1);
        assert!(line["header_order"].as_array().is_some_and(|names| !names.is_empty()));
        let text = line.to_string();
        for secret in ["signature=", "nonce_str=", "5K8264ILTKCH16CQ2502SI8ZNMTM67VS", &ids.apiv2_key] {
            assert!(!text.contains(secret), "line {} holds {secret}: {text}", i + 1);
        }
    }
    let native = &lines[0];
    assert_eq!((native["api"].as_str(), native["transport"].as_str()), (Some("v3"), Some("http")));
    assert_eq!(
        (native["method"].as_str(), native["template"].as_str()),
        (Some("POST"), Some("/v3/pay/transactions/native"))
    );
    assert_eq!(native["body"]["json"], order);
    assert_eq!(native["signature"], "valid");
    assert_eq!(native["headers"]["Content-Type"], "application/json");
    assert_eq!(native["headers"]["Accept"], "application/json");
    assert_eq!(native["headers"]["User-Agent"], "wechatpay-mock-tests");
    assert_eq!(native["headers"]["Wechatpay-Serial"], ids.platform.serial);
    assert_eq!(native["wechatpay_serial"], "platform_certificate");
    assert_eq!(native["answer"], json!({"status": 200}));

    let query = &lines[1];
    assert_eq!(query["path"], "/v3/pay/transactions/out-trade-no/1217752501201407033233368018");
    assert_eq!(query["template"], "/v3/pay/transactions/out-trade-no/{out_trade_no}");
    assert_eq!(query["params"], json!({"out_trade_no": "1217752501201407033233368018"}));
    assert_eq!(query["query"], json!({"mchid": ids.mchid}));
    assert_eq!(query["body"], Value::Null);
    assert!(query.get("wechatpay_serial").is_none());

    assert_eq!(lines[2]["signature"], "absent");
    assert_eq!(lines[2]["answer"]["code"], "SIGN_ERROR");
    assert_eq!(lines[3]["signature"], "invalid");
    assert!(lines[3]["signature_problem"].as_str().is_some_and(|p| p.contains("does not verify")), "{}", lines[3]);
    // The recording says whether a request was signed; refusing a reused nonce is the server's business.
    assert_eq!((lines[5]["signature"].as_str(), lines[5]["answer"]["status"].as_u64()), (Some("valid"), Some(401)));

    let upload = &lines[6];
    assert_eq!(upload["signature"], "valid", "{upload}");
    assert_eq!(upload["wechatpay_serial"], "public_key");
    let parts = upload["body"]["multipart"].as_array().expect("parts");
    assert_eq!(parts.len(), 2);
    assert_eq!(parts[0]["name"], "meta");
    assert_eq!(parts[0]["content_type"], "application/json");
    assert_eq!(parts[0]["json"]["filename"], "logo.png");
    assert_eq!(parts[1]["filename"], "logo.png");
    assert_eq!(parts[1]["content_type"], "image/png");
    assert_eq!(parts[1]["length"], file.len());
    assert_eq!(parts[1]["sha256"], hex(&sha2::Sha256::digest(&file)));
    assert!(parts[1].get("json").is_none());

    let v2 = &lines[7];
    assert_eq!((v2["api"].as_str(), v2["template"].as_str()), (Some("v2"), Some("/pay/orderquery")));
    assert_eq!(v2["body"]["xml"], json!({"appid": "wx2421b1c4370ec43b", "mch_id": ids.mchid, "out_trade_no": "NONE"}));
    assert_eq!((v2["signature"].as_str(), v2["nonce"].as_str()), (Some("valid"), Some("present")));
    assert_eq!(v2["answer"]["code"], "ORDERNOTEXIST", "{v2}");
    let unsigned = &lines[8];
    assert_eq!((unsigned["signature"].as_str(), unsigned["nonce"].as_str()), (Some("invalid"), Some("absent")));
    assert_eq!(unsigned["answer"]["code"], "FAIL");

    assert_eq!(lines[9]["answer"], json!({"dropped": true}));
    assert_eq!(lines[9]["wechatpay_serial"], "unknown");
    drop(server);
    let _ = std::fs::remove_file(&path);
}

#[test]
fn the_binary_records_with_record_file() {
    let dir = temp_path("state");
    ids().save(&dir).expect("identities saved");
    let path = temp_path("bin.jsonl");
    std::fs::write(&path, "an earlier recording\n").expect("written");
    let mut child = Command::new(env!("CARGO_BIN_EXE_wechatpay-mock"))
        .arg("--state-dir")
        .arg(&dir)
        .arg("--record")
        .arg(&path)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("binary starts");
    let mut ready = String::new();
    BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut ready).expect("ready line");
    let ready: Value = serde_json::from_str(&ready).expect("one JSON line");
    let addr = ready["listen"].as_str().expect("listen").to_owned();
    let mut http = std::net::TcpStream::connect(&addr).expect("connect");
    write!(http, "POST /v3/refund/domestic/refunds HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{{}}")
        .expect("write");
    let mut answer = String::new();
    http.read_to_string(&mut answer).expect("read");
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
    let lines = lines(&path);
    let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().expect("kill runs");
    assert!(status.success());
    assert!(child.wait().expect("exits").success());
    assert_eq!(lines.len(), 1, "the file was emptied at start: {lines:?}");
    assert_eq!(lines[0]["template"], "/v3/refund/domestic/refunds");
    assert_eq!(lines[0]["body"], json!({"json": {}}));
    assert_eq!(lines[0]["signature"], "absent");

    let nowhere = Command::new(env!("CARGO_BIN_EXE_wechatpay-mock"))
        .arg("--state-dir")
        .arg(&dir)
        .args(["--record", "/nonexistent-dir/php.jsonl"])
        .output()
        .expect("runs");
    assert_eq!(nowhere.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&nowhere.stderr);
    assert!(stderr.contains("creating the recording /nonexistent-dir/php.jsonl"), "{stderr}");
    let _ = (std::fs::remove_dir_all(&dir), std::fs::remove_file(&path));
}
