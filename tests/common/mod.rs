//! Shared set-up for the client's integration tests: a wechatpay-mock on loopback and a Builder pointed at it.
#![allow(dead_code)]

use serde_json::{Value, json};
use wechatpay::crypto::{Certificate, PrivateKey, PublicKey};
use wechatpay::{Builder, Config, ConfigBuilder};
use wechatpay_mock::{Identities, Server};

/// A simulator with the process-wide shared identities (key generation happens once per test binary).
pub fn mock() -> Server {
    Server::builder().identities(Identities::shared().expect("identities")).start_blocking().expect("mock starts")
}

/// The config a merchant would write for this simulator: merchant key and serial, platform certificate and public key.
pub fn config(server: &Server) -> ConfigBuilder {
    let ids = server.identities();
    Config::builder()
        .mchid(&ids.mchid)
        .serial(&ids.merchant.serial)
        .private_key(PrivateKey::from_pem(&ids.merchant.private_key_pem).expect("merchant key"))
        .platform_certificate(Certificate::from_pem(&ids.platform.certificate_pem).expect("platform certificate"))
        .public_key(&ids.public_key.id, PublicKey::from_pem(&ids.public_key.public_key_pem).expect("public key"))
        .base_uri(server.base_uri())
}

pub fn client(server: &Server) -> Builder {
    Builder::factory(config(server)).expect("factory")
}

/// The PHP-shaped config for the simulator.
pub fn php_config(server: &Server) -> Value {
    let ids = server.identities();
    json!({
        "mchid": ids.mchid,
        "serial": ids.merchant.serial,
        "privateKey": ids.merchant.private_key_pem,
        "certs": {
            ids.platform.serial.clone(): ids.platform.certificate_pem,
            ids.public_key.id.clone(): ids.public_key.public_key_pem,
        },
        "base_uri": server.base_uri(),
    })
}

/// The body of a QQ-wallet transfer creation, as the catalog's schema requires it.
pub fn transfer_request(out_bill_no: &str) -> Value {
    json!({
        "appid": "102022609",
        "out_bill_no": out_bill_no,
        "transfer_scene_id": "1401",
        "transfer_scene_report_infos": [{"info_type": "活动名称", "info_content": "注册会员有礼"}],
        "openid": "o-MYE42l80oelYMDE34nYD456Xoy",
        "transfer_amount": 400,
        "transfer_remark": "2020年4月报销",
    })
}

/// Creates a QQ-wallet transfer and returns the answer.
pub fn create_transfer(instance: &Builder, out_bill_no: &str) -> Value {
    instance["v3/fund-app/mch-transfer/transfer-to-qq-wallet-bills"]
        .post(json!({ "json": transfer_request(out_bill_no) }))
        .expect("transfer created")
        .json()
        .expect("JSON answer")
}

/// A unique out_bill_no per call, so tests sharing a simulator never collide.
pub fn bill_no(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    format!("{prefix}{}", COUNTER.fetch_add(1, Ordering::Relaxed))
}

/// A PHP-shaped config with the fixture keys, pointed at `base_uri`.
pub fn php_config_for(base_uri: &str) -> Value {
    json!({
        "mchid": "1900000001",
        "serial": "5F1C72E2A8931B72A2E13AF8DEE92471EB397115",
        "privateKey": "file://tests/fixtures/merchant_private_key.pem",
        "certs": {"PUB_KEY_ID_0114232134912410000000000000000": "file://tests/fixtures/wechat_pay_public_key.pem"},
        "base_uri": base_uri,
    })
}

/// A loopback HTTP server that answers each connection with the next canned answer (status, body), then closes
/// it: for answers no simulator gives (hostile XML, HTML error pages). Returns its base URI; the thread ends after
/// the last answer.
pub fn canned_server(answers: Vec<(u16, Vec<u8>)>) -> String {
    let text_xml = || vec![("Content-Type".to_owned(), "text/xml".to_owned())];
    canned_server_with_headers(answers.into_iter().map(|(status, body)| (status, text_xml(), body)).collect())
}

/// A canned answer: status, headers, body.
pub type CannedAnswer = (u16, Vec<(String, String)>, Vec<u8>);

/// As [`canned_server`], with the headers of each answer given (`Content-Length` and `Connection: close` are
/// added): for redirects, proxies' pages.
pub fn canned_server_with_headers(answers: Vec<CannedAnswer>) -> String {
    scripted_server(answers.into_iter().map(|(status, headers, body)| answer(status, headers, body)).collect()).base
}

/// The config for the simulator with the APIv2 key, the merchant certificate for mutual TLS and the simulator's
/// TLS CA trusted.
pub fn v2_config(server: &Server) -> ConfigBuilder {
    let ids = server.identities();
    config(server)
        .secret(&ids.apiv2_key)
        .merchant_tls(
            Certificate::from_pem(&ids.merchant.certificate_pem).expect("merchant certificate"),
            PrivateKey::from_pem(&ids.merchant.private_key_pem).expect("merchant key"),
        )
        .root_certificate(server.tls_ca_pem())
}

/// How many `GET /v3/certificates` the simulator received (among its last 512 requests).
pub fn certificate_downloads(server: &Server) -> usize {
    server
        .received_requests()
        .iter()
        .filter(|request| request.method == "GET" && request.target.split('?').next() == Some("/v3/certificates"))
        .count()
}

/// The config of [`config`] with the APIv3 key and automatic refresh on unknown serials only (no interval), at most
/// once per `min_gap`.
pub fn refreshing_config(server: &Server, min_gap: std::time::Duration) -> ConfigBuilder {
    let mut refresh = wechatpay::AutoRefresh::default();
    refresh.interval = None;
    refresh.min_gap = min_gap;
    config(server).apiv3_key(&server.identities().apiv3_key).auto_refresh(refresh)
}

/// What a [`scripted_server`] does with one connection: given the request it read (head and body), write anything
/// to the stream. Errors (the client hung up) end the connection quietly.
pub type Script = Box<dyn FnOnce(&[u8], &mut std::net::TcpStream) -> std::io::Result<()> + Send>;

/// A loopback server for hostile answers no simulator gives: each connection gets the next script, then is closed.
pub struct ScriptedServer {
    /// `http://127.0.0.1:port/`.
    pub base: String,
    /// Every request read, head and body, in order.
    pub requests: std::sync::Arc<std::sync::Mutex<Vec<Vec<u8>>>>,
}

impl ScriptedServer {
    /// The request heads read so far, as text.
    pub fn heads(&self) -> Vec<String> {
        self.requests
            .lock()
            .unwrap()
            .iter()
            .map(|request| {
                let text = String::from_utf8_lossy(request);
                text.split("\r\n\r\n").next().unwrap_or_default().to_owned()
            })
            .collect()
    }
}

/// Starts a [`ScriptedServer`] that runs `scripts` on successive connections.
pub fn scripted_server(scripts: Vec<Script>) -> ScriptedServer {
    use std::io::Read as _;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let base = format!("http://{}/", listener.local_addr().expect("address"));
    let requests = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = std::sync::Arc::clone(&requests);
    std::thread::spawn(move || {
        for script in scripts {
            let Ok((mut stream, _)) = listener.accept() else { return };
            let mut request = Vec::new();
            let mut buffer = [0u8; 4096];
            while let Ok(n) = stream.read(&mut buffer) {
                if n == 0 {
                    break;
                }
                request.extend_from_slice(&buffer[..n]);
                let text = String::from_utf8_lossy(&request).to_ascii_lowercase();
                if let Some(end) = text.find("\r\n\r\n") {
                    let length = text
                        .lines()
                        .find_map(|line| line.strip_prefix("content-length:"))
                        .and_then(|value| value.trim().parse::<usize>().ok())
                        .unwrap_or(0);
                    if request.len() >= end + 4 + length {
                        break;
                    }
                }
            }
            seen.lock().unwrap().push(request.clone());
            let _ = script(&request, &mut stream);
        }
    });
    ScriptedServer { base, requests }
}

/// A script that writes one answer: the status line, `headers`, `Content-Length`, `Connection: close`, the body.
pub fn answer(status: u16, headers: Vec<(String, String)>, body: Vec<u8>) -> Script {
    Box::new(move |_, stream| {
        use std::io::Write as _;
        let mut head = format!("HTTP/1.1 {status} X\r\n");
        for (name, value) in &headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str(&format!("Content-Length: {}\r\nConnection: close\r\n\r\n", body.len()));
        stream.write_all(head.as_bytes())?;
        stream.write_all(&body)
    })
}

/// The `Wechatpay-*` headers WeChat Pay would sign `body` with, using the fixture public key
/// (`PUB_KEY_ID_0114232134912410000000000000000`, trusted by [`php_config_for`]).
pub fn fixture_signed_headers(body: &[u8]) -> Vec<(String, String)> {
    use base64::Engine as _;
    let key = PrivateKey::load("file://tests/fixtures/wechat_pay_private_key.pem").expect("fixture key");
    let timestamp = wechatpay::Formatter::timestamp();
    let nonce = wechatpay::Formatter::nonce32().expect("nonce");
    let message = wechatpay::Formatter::response_bytes(timestamp, &nonce, body);
    let signature = base64::engine::general_purpose::STANDARD.encode(key.sign(&message).expect("signs"));
    vec![
        ("Wechatpay-Timestamp".into(), timestamp.to_string()),
        ("Wechatpay-Nonce".into(), nonce),
        ("Wechatpay-Signature".into(), signature),
        ("Wechatpay-Serial".into(), "PUB_KEY_ID_0114232134912410000000000000000".into()),
        ("Content-Type".into(), "application/json".into()),
        ("Request-ID".into(), "HOSTILE-1".into()),
    ]
}

/// The typed config of [`php_config_for`]: the fixture keys, pointed at `base_uri`.
pub fn config_for_fixtures(base_uri: &str) -> ConfigBuilder {
    Config::builder()
        .mchid("1900000001")
        .serial("5F1C72E2A8931B72A2E13AF8DEE92471EB397115")
        .private_key(PrivateKey::load("file://tests/fixtures/merchant_private_key.pem").expect("merchant key"))
        .public_key(
            "PUB_KEY_ID_0114232134912410000000000000000",
            PublicKey::load("file://tests/fixtures/wechat_pay_public_key.pem").expect("public key"),
        )
        .base_uri(base_uri)
}
