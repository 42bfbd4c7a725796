//! The log lines (`tracing`): public-key mode once per Builder, an expired certificate once per serial, downloads
//! with their serials, and never a secret. One process-wide subscriber, so everything runs in one test.

mod common;

use std::fmt::Write as _;
use std::sync::Mutex;

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};
use wechatpay::crypto::{Certificate, Rsa};
use wechatpay::{Builder, Formatter, PlatformKeys, RefreshOutcome, Verifier};
use wechatpay_mock::{Identities, Server};

/// Every event as `LEVEL target message=... field=value ...`.
static EVENTS: Mutex<Vec<String>> = Mutex::new(Vec::new());

struct Capture;

struct Line(String);

impl Visit for Line {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let _ = write!(self.0, " {}={value:?}", field.name());
    }
}

impl Subscriber for Capture {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut line = Line(format!("{} {}", event.metadata().level(), event.metadata().target()));
        event.record(&mut line);
        EVENTS.lock().unwrap().push(line.0);
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

fn count(needle: &str) -> usize {
    EVENTS.lock().unwrap().iter().filter(|line| line.contains(needle)).count()
}

#[test]
fn log_lines_come_once_where_promised_and_never_carry_secrets() {
    tracing::subscriber::set_global_default(Capture).expect("the only subscriber of this binary");

    // Public-key mode: logged once per Builder, however often it is seen.
    let public_only =
        Server::builder().identities(Identities::shared().unwrap()).public_key_only().start_blocking().unwrap();
    let config = || common::config(&public_only).apiv3_key(&public_only.identities().apiv3_key);
    let first = Builder::factory(config()).unwrap();
    for _ in 0..3 {
        assert!(matches!(first.refresh_certificates().unwrap(), RefreshOutcome::PublicKeyMode { .. }));
    }
    assert_eq!(count("public-key mode"), 1);
    let second = Builder::factory(config()).unwrap();
    second.refresh_certificates().unwrap();
    assert_eq!(count("public-key mode"), 2, "per Builder, not per process");
    assert!(EVENTS.lock().unwrap().iter().any(|line| line.starts_with("INFO") && line.contains("status=404")));

    // A download names what it brought.
    let server = common::mock();
    let instance = Builder::factory(common::config(&server).apiv3_key(&server.identities().apiv3_key)).unwrap();
    instance.refresh_certificates().unwrap();
    assert_eq!(count(&server.identities().platform.serial), 1, "{:?}", EVENTS.lock().unwrap());

    // An expired certificate: logged the first time it is skipped, per serial.
    let expired = Certificate::load("file://tests/fixtures/wechat_pay_certificate.pem").unwrap();
    let keys = PlatformKeys::new();
    keys.insert_certificate(&expired);
    let platform = Rsa::from_private("file://tests/fixtures/wechat_pay_private_key.pem").unwrap();
    let message = Formatter::response("1554208460", "N", "{}");
    let signature = Rsa::sign(&message, &platform).unwrap();
    for _ in 0..3 {
        assert!(keys.verify(expired.serial_number(), message.as_bytes(), &signature).is_err());
    }
    assert_eq!(count("skipped an expired"), 1);
    assert!(EVENTS.lock().unwrap().iter().any(|line| line.contains("expired_at=2025-05-09T02:04:30Z")));

    // Guzzle's `debug`: the exchange is logged, its signatures and sensitive values redacted.
    let debug_client = Builder::factory(common::config(&server).secret(&server.identities().apiv2_key)).unwrap();
    let transfer = common::transfer_request(&common::bill_no("DEBUG"));
    let mut transfer = transfer.as_object().unwrap().clone();
    transfer.insert("user_name".into(), "张三".into());
    let options = wechatpay::Options::new().json(&transfer).encrypt_fields(["user_name"]).debug(true);
    debug_client.v3().fund_app().mch_transfer().transfer_to_qq_wallet_bills().post(options).unwrap();
    let sent = server.last_request().unwrap();
    let header = |name: &str| {
        sent.headers.iter().find(|(key, _)| key.eq_ignore_ascii_case(name)).map(|(_, value)| value.clone()).unwrap()
    };
    let authorization = header("Authorization");
    let signature = authorization.split("signature=\"").nth(1).unwrap().split('"').next().unwrap().to_owned();
    let body: serde_json::Value = serde_json::from_slice(&sent.body).unwrap();
    let ciphertext = body["user_name"].as_str().unwrap().to_owned();
    let request = EVENTS.lock().unwrap().iter().find(|line| line.contains("transfer-to-qq-wallet-bills")).cloned();
    let request = request.expect("the request is logged");
    assert!(request.starts_with("INFO wechatpay::debug message=request"), "{request}");
    assert!(request.contains("mchid=") && request.contains(r#"signature="(redacted)""#), "{request}");
    assert!(request.contains(r#""user_name":"(redacted)""#), "{request}");
    assert!(EVENTS.lock().unwrap().iter().any(|line| line.contains(" status=200") && line.contains("answer")));
    let v2 = serde_json::json!({"xml": {"appid": "wxd930ea5d5a258f4f", "mch_id": server.identities().mchid,
        "out_trade_no": "NO-SUCH-ORDER"}, "debug": true});
    assert!(debug_client.v2().pay().orderquery().post(v2).is_err());
    let apiv2 = server.last_request().unwrap();
    let apiv2_body = String::from_utf8(apiv2.body).unwrap();
    let sign = apiv2_body.split("<sign>").nth(1).unwrap().split('<').next().unwrap().to_owned();
    assert!(count("<sign>(redacted)</sign>") >= 2, "the request and the answer: {:?}", EVENTS.lock().unwrap());
    for line in EVENTS.lock().unwrap().iter() {
        for hidden in [&signature, &ciphertext, &sign] {
            assert!(!line.contains(hidden.as_str()), "{hidden} in: {line}");
        }
    }

    // No secret in any line.
    let ids = server.identities();
    let key_body = ids.merchant.private_key_pem.lines().nth(1).unwrap().to_owned();
    for line in EVENTS.lock().unwrap().iter() {
        for secret in [&ids.apiv3_key, &ids.apiv2_key, &key_body] {
            assert!(!line.contains(secret.as_str()), "a secret in: {line}");
        }
    }
}
