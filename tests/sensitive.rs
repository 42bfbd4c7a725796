//! Sensitive fields end to end: a QQ-wallet transfer whose `user_name` the SDK encrypts and wechatpay-mock decrypts
//! with the key `Wechatpay-Serial` names; the answer's `user_name` decrypted with the merchant key.

mod common;

use serde_json::{Value, json};
use wechatpay::crypto::{Certificate, PrivateKey};
use wechatpay::{Builder, Config, Error, Options};
use wechatpay_mock::Server;

const BILLS: &str = "v3/fund-app/mch-transfer/transfer-to-qq-wallet-bills";

fn transfer_with_name(out_bill_no: &str) -> Value {
    let mut body = common::transfer_request(out_bill_no);
    body["user_name"] = json!("张三");
    body
}

fn sent_serial(server: &Server) -> Option<String> {
    let sent = server.last_request()?;
    sent.headers.iter().find(|(name, _)| name.eq_ignore_ascii_case("Wechatpay-Serial")).map(|(_, v)| v.clone())
}

/// Creates the transfer with `options`, then reads `user_name` back (encrypted for the merchant) and decrypts it.
fn round_trip(instance: &Builder, options: Options, out_bill_no: &str) -> String {
    instance[BILLS].post(options).expect("wechatpay-mock decrypted user_name and accepted the transfer");
    let mut bill: Value = instance[&format!("{BILLS}/{{out_bill_no}}")[..]]
        .get(json!({"out_bill_no": out_bill_no}))
        .unwrap()
        .json()
        .unwrap();
    assert_ne!(bill["user_name"], "张三", "answers carry it encrypted");
    instance.config().decrypt_fields(&mut bill, &["user_name"]).unwrap();
    bill["user_name"].as_str().unwrap().to_owned()
}

#[test]
fn the_public_key_is_preferred_and_its_serial_sent() {
    let server = common::mock();
    let instance = common::client(&server);
    let no = common::bill_no("sens-pk");
    let options = Options::new().json(&transfer_with_name(&no)).encrypt_fields(["user_name"]);
    assert_eq!(round_trip(&instance, options, &no), "张三");
    let create = server.received_requests().into_iter().rev().nth(1).unwrap();
    let serial = create.headers.iter().find(|(name, _)| name == "wechatpay-serial").map(|(_, v)| v.as_str());
    assert_eq!(serial, Some(server.identities().public_key.id.as_str()));
    let sent: Value = serde_json::from_slice(&create.body).unwrap();
    assert_ne!(sent["user_name"], "张三", "never sent in clear");
    assert_eq!(sent["openid"], "o-MYE42l80oelYMDE34nYD456Xoy", "other fields untouched");
}

#[test]
fn an_explicit_wechatpay_serial_picks_the_key() {
    let server = common::mock();
    let instance = common::client(&server);
    let no = common::bill_no("sens-explicit");
    let platform = server.identities().platform.serial.clone();
    // PHP-shaped json body with the typed option, and the caller's header naming the platform certificate.
    let options = Options::from_value(&json!({"json": transfer_with_name(&no)}))
        .unwrap()
        .header("Wechatpay-Serial", &platform)
        .encrypt_fields(["user_name"]);
    assert_eq!(round_trip(&instance, options, &no), "张三");
    let create = server.received_requests().into_iter().rev().nth(1).unwrap();
    assert!(create.headers.iter().any(|(name, value)| name == "wechatpay-serial" && *value == platform));
}

#[test]
fn with_only_a_platform_certificate_it_is_used() {
    let server = common::mock();
    let ids = server.identities();
    let instance = Builder::factory(
        Config::builder()
            .mchid(&ids.mchid)
            .serial(&ids.merchant.serial)
            .private_key(PrivateKey::from_pem(&ids.merchant.private_key_pem).unwrap())
            .platform_certificate(Certificate::from_pem(&ids.platform.certificate_pem).unwrap())
            .base_uri(server.base_uri()),
    )
    .unwrap();
    let no = common::bill_no("sens-cert");
    let options = Options::new().json(&transfer_with_name(&no)).encrypt_fields(["user_name"]);
    assert_eq!(round_trip(&instance, options, &no), "张三");
    assert_eq!(sent_serial(&server), None, "the query carries no encrypted field");
    let create = server.received_requests().into_iter().rev().nth(1).unwrap();
    assert!(create.headers.iter().any(|(name, value)| name == "wechatpay-serial" && *value == ids.platform.serial));
}

#[test]
fn by_hand_as_in_the_php_readme() {
    let server = common::mock();
    let instance = common::client(&server);
    let no = common::bill_no("sens-hand");
    let encryptor = instance.config().encryptor().unwrap();
    let mut body = transfer_with_name(&no);
    body["user_name"] = json!(encryptor.encrypt("张三").unwrap());
    let options = json!({"json": body, "headers": {"Wechatpay-Serial": encryptor.serial()}});
    assert_eq!(round_trip(&instance, Options::from_value(&options).unwrap(), &no), "张三");
}

#[test]
fn mistakes_are_errors_before_anything_is_sent() {
    let server = common::mock();
    let instance = common::client(&server);
    let before = server.requests_served();
    let body = transfer_with_name("sens-mistake");
    let cases = [
        (Options::new().json(&body).encrypt_fields(["user_nmae"]), "user_nmae"),
        (Options::new().json(&body).encrypt_fields(["transfer_amount"]), "not a string"),
        (Options::new().encrypt_fields(["user_name"]), "no"),
        (Options::new().json(&body).encrypt_fields(["user_name"]).header("Wechatpay-Serial", "ABCDEF"), "ABCDEF"),
    ];
    for (options, expected) in cases {
        let err = instance[BILLS].post(options).unwrap_err();
        assert!(matches!(err, Error::Options { .. } | Error::InvalidArgument { .. }), "{err:?}");
        assert!(err.to_string().contains(expected), "{err}");
    }
    assert_eq!(server.requests_served(), before, "nothing was sent");

    // Only an expired platform certificate: nothing may encrypt.
    let ids = server.identities();
    let expired_only = Builder::factory(
        Config::builder()
            .mchid(&ids.mchid)
            .serial(&ids.merchant.serial)
            .private_key(PrivateKey::from_pem(&ids.merchant.private_key_pem).unwrap())
            .platform_certificate(Certificate::load("file://tests/fixtures/wechat_pay_certificate.pem").unwrap())
            .base_uri(server.base_uri()),
    )
    .unwrap();
    let err = expired_only[BILLS].post(Options::new().json(&body).encrypt_fields(["user_name"])).unwrap_err();
    assert!(matches!(&err, Error::Config { field, .. } if field == "certs"), "{err}");
}
