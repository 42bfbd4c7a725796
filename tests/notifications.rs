//! v3 callbacks: wechatpay-mock's callback sender POSTs to the axum example's handler over real HTTP; tampered,
//! stale, probe, replayed, duplicate and wrong-key callbacks are refused with what is wrong; the parser on its own
//! with the official AES-GCM vector.

mod common;

#[path = "../examples/notify_axum.rs"]
#[allow(dead_code)]
mod example;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::sync::mpsc;
use wechatpay::crypto::{PrivateKey, PublicKey, Rsa};
use wechatpay::header::{HeaderMap, HeaderName, HeaderValue};
use wechatpay::{
    Builder, Formatter, Notification, NotificationError, NotificationParser, PlatformKeys, ReplayGuard,
    VerificationFailure,
};
use wechatpay_mock::{Delivered, Fault, Server, SignatureHeader};

fn instance(server: &Server) -> Builder {
    Builder::factory(common::config(server).apiv3_key(&server.identities().apiv3_key)).unwrap()
}

/// The example's endpoint on a loopback port; returns its URL and where it hands paid orders.
async fn endpoint(parser: NotificationParser) -> (String, mpsc::UnboundedReceiver<example::Transaction>) {
    let (paid, orders) = mpsc::unbounded_channel();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/wechatpay/notify", listener.local_addr().unwrap());
    let app = Arc::new(example::App { parser, paid });
    tokio::spawn(async move { axum::serve(listener, example::router(app)).await });
    (url, orders)
}

/// A paid order's TRANSACTION.SUCCESS callback.
fn paid_order_callback(server: &Server, instance: &Builder) -> (String, wechatpay_mock::Notification) {
    let out_trade_no = common::bill_no("NOTIFY");
    instance
        .v3()
        .pay()
        .transactions()
        .native()
        .post(json!({"json": {
            "appid": "wxd678efh567hg6787", "mchid": server.identities().mchid, "description": "Image形象店-深圳腾大",
            "out_trade_no": out_trade_no, "notify_url": "https://example.com/notify", "amount": {"total": 100},
        }}))
        .unwrap();
    server.pay_order(&out_trade_no).unwrap();
    (out_trade_no.clone(), server.transaction_notification(&out_trade_no).unwrap())
}

fn message(delivered: &Delivered) -> String {
    serde_json::from_slice::<Value>(&delivered.body).unwrap()["message"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_handler_processes_a_real_callback_once_and_refuses_the_rest() {
    let server = common::mock();
    let instance = instance(&server);
    let parser = instance.notification_parser().unwrap().replay_guard(ReplayGuard::default());
    let (url, mut orders) = endpoint(parser).await;
    let (out_trade_no, callback) = tokio::task::block_in_place(|| paid_order_callback(&server, &instance));

    let delivered = server.deliver(&callback, &url).await.unwrap();
    assert!(delivered.acknowledged(), "{delivered:?}");
    let order = orders.recv().await.unwrap();
    assert_eq!((order.out_trade_no.as_str(), order.trade_state.as_str()), (out_trade_no.as_str(), "SUCCESS"));
    assert_eq!(order.amount.total, 100);
    assert!(order.transaction_id.is_some());

    // WeChat Pay did not get the answer and sends the event again (signed anew): acknowledged, not processed again.
    let resent = server.resign_notification(&callback, None).unwrap();
    let delivered = server.deliver(&resent, &url).await.unwrap();
    assert!(delivered.acknowledged(), "{delivered:?}");

    // The very same POST again: a replay.
    let replayed = server.deliver(&callback, &url).await.unwrap();
    assert_eq!(replayed.status, 400);
    assert!(message(&replayed).contains("replay"), "{}", message(&replayed));

    // Forged or broken ones: 401, and WeChat Pay would retry.
    for (fault, expected) in [
        (Fault::TamperedSignature, "does not match"),
        (Fault::StaleTimestamp, "away from this machine's clock"),
        (Fault::SignTestProbe, "SIGNTEST"),
        (Fault::UnknownSerial, "not among the configured certs"),
        (Fault::MissingHeader(SignatureHeader::Nonce), "Wechatpay-Nonce header is missing"),
        (Fault::MissingSignatureHeaders, "header is missing"),
    ] {
        let forged = server.resign_notification(&callback, Some(fault.clone())).unwrap();
        let delivered = server.deliver(&forged, &url).await.unwrap();
        assert_eq!(delivered.status, 401, "{fault:?}");
        assert!(!delivered.acknowledged());
        assert!(message(&delivered).contains(expected), "{fault:?}: {}", message(&delivered));
    }
    assert!(orders.try_recv().is_err(), "nothing but the first was processed");
}

#[test]
fn callbacks_parse_into_values_and_typed_resources_from_any_header_map() {
    let server = common::mock();
    let parser = instance(&server).notification_parser().unwrap();
    let resource = json!({"out_refund_no": "R1", "refund_status": "SUCCESS", "amount": {"refund": 50}});
    let callback = server.notification("REFUND.SUCCESS", "退款成功", "refund", &resource).unwrap();

    let pairs: Vec<(String, String)> = callback.headers.clone();
    let parsed: Notification = parser.parse(&pairs, &callback.body).unwrap();
    assert_eq!(parsed.resource, resource);
    assert_eq!(
        (parsed.id.as_str(), parsed.event_type.as_str(), parsed.summary.as_str()),
        (callback.id.as_str(), "REFUND.SUCCESS", "退款成功")
    );
    assert_eq!((parsed.resource_type.as_str(), parsed.original_type.as_str()), ("encrypt-resource", "refund"));
    assert_eq!(parsed.serial, server.identities().platform.serial);
    assert!(parsed.create_time.ends_with("+08:00"));

    #[derive(serde::Deserialize)]
    struct Refund {
        out_refund_no: String,
        amount: RefundAmount,
    }
    #[derive(serde::Deserialize)]
    struct RefundAmount {
        refund: u64,
    }
    let mut map = HeaderMap::new();
    for (name, value) in &callback.headers {
        map.insert(HeaderName::from_bytes(name.as_bytes()).unwrap(), HeaderValue::from_str(value).unwrap());
    }
    let typed: Notification<Refund> = parser.parse(&map, &callback.body).unwrap();
    assert_eq!((typed.resource.out_refund_no.as_str(), typed.resource.amount.refund), ("R1", 50));
    let lower: HashMap<String, String> =
        callback.headers.iter().map(|(name, value)| (name.to_ascii_lowercase(), value.clone())).collect();
    assert!(parser.parse::<Refund, _>(&lower, &callback.body).is_ok());

    // A resource that is not what was asked for says so.
    #[derive(Debug, serde::Deserialize)]
    struct Wrong {
        #[allow(dead_code)]
        transaction_id: String,
    }
    let err = parser.parse::<Wrong, _>(&pairs, &callback.body).unwrap_err();
    assert!(matches!(&err, NotificationError::Resource(reason) if reason.contains("transaction_id")), "{err}");
    assert_eq!(err.answer().status(), 500);
}

#[test]
fn altered_bodies_and_wrong_keys_are_refused_with_what_is_wrong() {
    let server = common::mock();
    let ids = server.identities();
    let callback = server.notification("TRANSACTION.SUCCESS", "支付成功", "transaction", &json!({"a": 1})).unwrap();
    let parser = instance(&server).notification_parser().unwrap();

    // One byte of the body changed after signing (here: inside the id).
    let mut altered = callback.body.clone();
    let at = altered.windows(4).position(|w| w == b"\"id\"").unwrap() + 7;
    altered[at] ^= 0x01;
    let err = parser.parse::<Value, _>(&callback.headers, &altered).unwrap_err();
    assert_eq!(err, NotificationError::Verification(VerificationFailure::BadSignature));

    // The wrong APIv3 key: the signature is fine, the resource does not decrypt.
    let wrong_key = NotificationParser::new(common_keys(&server), "0123456789abcdef0123456789abcdef").unwrap();
    let err = wrong_key.parse::<Value, _>(&callback.headers, &callback.body).unwrap_err();
    assert_eq!(err, NotificationError::Decryption);
    assert!(err.to_string().contains("APIv3 key") && !err.to_string().contains(&ids.apiv3_key));

    // A key filed under the platform serial that is not the platform's: the signature does not verify.
    let impostor = PlatformKeys::new();
    impostor.insert(&ids.platform.serial, PublicKey::from_pem(&ids.public_key.public_key_pem).unwrap());
    let err = NotificationParser::new(impostor, &ids.apiv3_key)
        .unwrap()
        .parse::<Value, _>(&callback.headers, &callback.body)
        .unwrap_err();
    assert_eq!(err, NotificationError::Verification(VerificationFailure::BadSignature));

    // No keys at all: the serial is unknown.
    let err = NotificationParser::new(PlatformKeys::new(), &ids.apiv3_key)
        .unwrap()
        .parse::<Value, _>(&callback.headers, &callback.body)
        .unwrap_err();
    assert!(matches!(err, NotificationError::Verification(VerificationFailure::UnknownSerial(_))), "{err}");
}

/// The keys of `common::config` as a standalone PlatformKeys.
fn common_keys(server: &Server) -> PlatformKeys {
    instance(server).config().platform_keys().unwrap().clone()
}

/// A callback body signed here with the mock's platform key, for bodies the simulator would never send.
fn signed_by_platform(server: &Server, body: &[u8]) -> Vec<(&'static str, String)> {
    let platform = PrivateKey::from_pem(&server.identities().platform.private_key_pem).unwrap();
    let (timestamp, nonce) = (Formatter::timestamp(), Formatter::nonce32().unwrap());
    let signature = Rsa::sign(Formatter::response_bytes(timestamp, &nonce, body), &platform).unwrap();
    vec![
        ("Wechatpay-Timestamp", timestamp.to_string()),
        ("Wechatpay-Nonce", nonce),
        ("Wechatpay-Signature", signature),
        ("Wechatpay-Serial", server.identities().platform.serial.clone()),
    ]
}

#[test]
fn the_official_aes_gcm_vector_decrypts_and_its_must_fail_case_fails() {
    let server = common::mock();
    let vectors: Value =
        serde_json::from_str(&std::fs::read_to_string("tests/fixtures/vectors.json").unwrap()).unwrap();
    let vector = &vectors["aes_256_gcm"][0];
    let text = |v: &Value, name: &str| v[name].as_str().unwrap().to_owned();
    let envelope = |aad: &str, algorithm: &str, nonce: &str| {
        serde_json::to_vec(&json!({
            "id": "EV-vector", "create_time": "2015-05-20T13:29:35+08:00", "resource_type": "encrypt-resource",
            "event_type": "TRANSACTION.SUCCESS", "summary": "支付成功",
            "resource": {"algorithm": algorithm, "ciphertext": text(vector, "ciphertext_base64"), "nonce": nonce,
                "associated_data": aad, "original_type": "transaction"},
        }))
        .unwrap()
    };
    let parser = NotificationParser::new(common_keys(&server), text(vector, "key")).unwrap();
    let nonce = text(vector, "nonce");

    // The vector's plaintext is the text `message`, not JSON: it decrypts, and the resource type says what is wrong.
    let body = envelope(&text(vector, "associated_data"), "AEAD_AES_256_GCM", &nonce);
    let err = parser.parse::<Value, _>(&signed_by_platform(&server, &body), &body).unwrap_err();
    assert!(matches!(err, NotificationError::Resource(_)), "decrypted, then not JSON: {err}");

    let bad_aad = text(&vector["must_fail"][0], "associated_data");
    let body = envelope(&bad_aad, "AEAD_AES_256_GCM", &nonce);
    let err = parser.parse::<Value, _>(&signed_by_platform(&server, &body), &body).unwrap_err();
    assert_eq!(err, NotificationError::Decryption);

    let body = envelope(&text(vector, "associated_data"), "SM4", &nonce);
    let err = parser.parse::<Value, _>(&signed_by_platform(&server, &body), &body).unwrap_err();
    assert_eq!(err, NotificationError::UnsupportedAlgorithm("SM4".into()));

    let body = envelope(&text(vector, "associated_data"), "AEAD_AES_256_GCM", "short");
    let err = parser.parse::<Value, _>(&signed_by_platform(&server, &body), &body).unwrap_err();
    assert!(matches!(&err, NotificationError::Malformed(reason) if reason.contains("resource.nonce")), "{err}");

    let body = b"not json at all".to_vec();
    let err = parser.parse::<Value, _>(&signed_by_platform(&server, &body), &body).unwrap_err();
    assert!(matches!(err, NotificationError::Malformed(_)), "{err}");
    assert_eq!(err.answer().status(), 400);
}

#[test]
fn a_callback_from_a_rotated_certificate_starts_a_refresh_and_its_resend_verifies() {
    let server = common::mock();
    let instance = Builder::factory(common::refreshing_config(&server, Duration::from_secs(3600))).unwrap();
    let parser = instance.notification_parser().unwrap();
    let rotated = server.rotate_platform_certificate().unwrap();
    let callback = server.notification("TRANSACTION.SUCCESS", "支付成功", "transaction", &json!({"a": 1})).unwrap();

    let err = parser.parse::<Value, _>(&callback.headers, &callback.body).unwrap_err();
    assert!(
        matches!(&err, NotificationError::Verification(VerificationFailure::UnknownSerial(s)) if *s == rotated.serial)
    );
    // Refused now (WeChat Pay retries), while the certificates download in the background.
    let keys = instance.config().platform_keys().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !keys.contains(&rotated.serial) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let resent = server.resign_notification(&callback, None).unwrap();
    let parsed = parser.parse::<Value, _>(&resent.headers, &resent.body).unwrap();
    assert_eq!(parsed.serial, rotated.serial);
    assert_eq!(common::certificate_downloads(&server), 1);

    // Forged callbacks naming unknown serials cannot make it download again within the gap.
    for _ in 0..3 {
        let forged = server.resign_notification(&callback, Some(Fault::UnknownSerial)).unwrap();
        assert!(parser.parse::<Value, _>(&forged.headers, &forged.body).is_err());
    }
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(common::certificate_downloads(&server), 1);
}
