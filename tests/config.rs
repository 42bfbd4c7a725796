//! Builder::factory's configuration checks, PHP-shaped and typed.

use serde_json::{Value, json};
use wechatpay::crypto::{Certificate, PrivateKey};
use wechatpay::{Builder, Config, Error};

fn php() -> Value {
    json!({
        "mchid": "1900000001",
        "serial": "5F1C72E2A8931B72A2E13AF8DEE92471EB397115",
        "privateKey": "file://tests/fixtures/merchant_private_key.pem",
        "certs": {
            "440024045C4A427599D09BB4E3DE0279F2E813FD": "file://tests/fixtures/wechat_pay_certificate.pem",
            "PUB_KEY_ID_0114232134912410000000000000000": "file://tests/fixtures/wechat_pay_public_key.pem",
        },
    })
}

fn config_error(config: Value) -> (String, String) {
    match Builder::factory(config) {
        Err(Error::Config { field, reason }) => (field, reason),
        other => panic!("expected a config error, got {other:?}"),
    }
}

#[test]
fn the_php_shape_builds_with_defaults() {
    let instance = Builder::factory(php()).unwrap();
    let config = instance.config();
    assert_eq!(config.base_uri(), "https://api.mch.weixin.qq.com/");
    assert_eq!(config.platform_keys().unwrap().len(), 2);
    assert!(config.private_key().is_some());
    assert!(!config.has_apiv2_key());
}

#[test]
fn each_mandatory_key_is_named_when_missing() {
    for key in ["mchid", "serial", "privateKey", "certs"] {
        let mut config = php();
        config.as_object_mut().unwrap().remove(key);
        let (field, reason) = config_error(config);
        assert_eq!(field, key, "{reason}");
        assert!(reason.contains("required"), "{reason}");
    }
    let mut empty_certs = php();
    empty_certs["certs"] = json!({});
    assert_eq!(config_error(empty_certs).0, "certs");
}

#[test]
fn the_merchant_serial_must_not_be_among_certs() {
    let mut config = php();
    config["certs"]["5f1c72e2a8931b72a2e13af8dee92471eb397115"] =
        json!("file://tests/fixtures/wechat_pay_public_key.pem");
    let (field, reason) = config_error(config);
    assert_eq!(field, "certs");
    assert!(reason.contains("merchant serial"), "{reason}");
}

#[test]
fn bad_values_are_explained() {
    let cases = [
        ("privateKey", json!("file://tests/fixtures/wechat_pay_certificate.pem"), "CERTIFICATE"),
        ("privateKey", json!(42), "string"),
        ("serial", json!("not hex!"), "hex"),
        ("mchid", json!("19 00"), "digits"),
        ("base_uri", json!("ftp://example.com/"), "http"),
        ("base_uri", json!("not a url"), "not a URL"),
        ("timeout", json!(-1), "positive"),
        ("certs", json!(["x"]), "object"),
        ("base_uri", json!("https://user:secret@api.mch.weixin.qq.com/"), "credentials"),
        ("timeout", json!(1e300), "seconds"),
    ];
    for (key, value, needle) in cases {
        let mut config = php();
        config[key] = value;
        let (field, reason) = config_error(config);
        assert_eq!(field, key);
        assert!(reason.contains(needle), "{key}: {reason}");
    }
    let mut config = php();
    config["certs"]["ABCDEF"] = json!("file://tests/fixtures/wechat_pay_certificate.pem");
    let (field, reason) = config_error(config);
    assert_eq!(field, "certs.ABCDEF");
    assert!(reason.contains("440024045C4A427599D09BB4E3DE0279F2E813FD"), "{reason}");
    let mut config = php();
    config["proxy"] = json!("http://127.0.0.1:3128");
    let (field, reason) = config_error(config);
    assert_eq!(field, "proxy");
    assert!(reason.contains("mchid, serial, privateKey"), "{reason}");
}

#[test]
fn secrets_never_show() {
    let mut config = php();
    config["secret"] = json!("192006250b4c09247ec02edce69f6a2d");
    config["merchant"] = json!({"cert": "file://tests/fixtures/merchant_certificate.pem", "key": "file://tests/fixtures/merchant_private_key.pem"});
    let instance = Builder::factory(config).unwrap();
    let shown = format!("{:?} {:?}", instance.config(), instance);
    assert!(!shown.contains("192006250b4c09247ec02edce69f6a2d"), "{shown}");
    assert!(!shown.contains("PRIVATE KEY"), "{shown}");
    assert!(instance.config().has_apiv2_key());
    assert!(instance.config().merchant_certificate().is_some());
}

#[test]
fn typed_and_php_configs_agree() {
    let typed = Config::builder()
        .mchid("1900000001")
        .serial("5F1C72E2A8931B72A2E13AF8DEE92471EB397115")
        .private_key(PrivateKey::load("file://tests/fixtures/merchant_private_key.pem").unwrap())
        .platform_certificate(Certificate::load("file://tests/fixtures/wechat_pay_certificate.pem").unwrap())
        .public_key(
            "PUB_KEY_ID_0114232134912410000000000000000",
            wechatpay::crypto::PublicKey::load("file://tests/fixtures/wechat_pay_public_key.pem").unwrap(),
        )
        .build()
        .unwrap();
    let php = Config::from_value(&php()).unwrap();
    assert_eq!(typed.platform_keys().unwrap().serials(), php.platform_keys().unwrap().serials());
    assert_eq!(format!("{typed:?}"), format!("{php:?}"));
}

#[test]
fn huge_timeouts_are_errors_not_panics() {
    let instance = Builder::factory(php()).unwrap();
    let err = instance.v3().certificates().url(json!({"timeout": 1e20})).unwrap_err();
    assert!(matches!(err, Error::Options { .. }), "{err:?}");
}

#[test]
fn the_merchant_tls_pair_must_match() {
    let mut config = php();
    config["merchant"] = json!({"cert": "file://tests/fixtures/wechat_pay_certificate.pem", "key": "file://tests/fixtures/merchant_private_key.pem"});
    let (field, reason) = config_error(config);
    assert_eq!(field, "merchant");
    assert!(reason.contains("does not match"), "{reason}");
}

/// README_APIv2: `merchant[key => $path]` "accepts `[$path, $passphrase]`" for an encrypted key.
#[test]
fn an_encrypted_merchant_key_takes_php_s_path_and_passphrase_pair() {
    let cert = "file://tests/fixtures/merchant_certificate.pem";
    let encrypted = "file://tests/fixtures/merchant_private_key.encrypted.pem";
    let mut config = php();
    config["merchant"] = json!({"cert": [cert], "key": [encrypted, "wechatpay"]});
    let instance = Builder::factory(&config).unwrap();
    assert!(instance.config().merchant_certificate().is_some());
    assert!(!format!("{:?}", instance.config()).contains("wechatpay\""));

    config["merchant"] = json!({"cert": cert, "key": [encrypted, "wrong"]});
    let (field, reason) = config_error(config.clone());
    assert_eq!(field, "merchant.key");
    assert!(!reason.contains("wrong"), "the passphrase is never shown: {reason}");
    config["merchant"] = json!({"cert": cert, "key": encrypted});
    assert_eq!(config_error(config.clone()).0, "merchant.key", "an encrypted key needs its passphrase");
    config["merchant"] = json!({"cert": [cert, "secret"], "key": [encrypted, "wechatpay"]});
    let (field, reason) = config_error(config.clone());
    assert_eq!(field, "merchant.cert");
    assert!(reason.contains("not needed") && !reason.contains("secret\""), "{reason}");
    config["merchant"] = json!({"cert": cert, "key": [encrypted, 1]});
    assert!(config_error(config).1.contains("[path, passphrase]"));
}

const APIV3_KEY: &str = "a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb";

#[test]
fn the_apiv3_key_is_checked_and_never_shown() {
    let mut config = php();
    config["apiv3Key"] = json!(APIV3_KEY);
    config["secret"] = json!("192006250b4c09247ec02edce69f6a2d");
    let instance = Builder::factory(&config).unwrap();
    assert!(instance.config().has_apiv3_key());
    let shown = format!("{:?} {:?} {:?}", instance.config(), instance, instance.notification_parser().unwrap());
    assert!(!shown.contains(APIV3_KEY) && !shown.contains("192006250b4c09247ec02edce69f6a2d"), "{shown}");
    assert!(shown.contains("<redacted>"), "{shown}");

    for wrong in
        ["a7cde1ZJB1kG2e7VfTs3jQzaWizur8G", "a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb1", "", "密钥密钥密钥密钥密钥密钥密钥密钥"]
    {
        config["apiv3Key"] = json!(wrong);
        let err = Builder::factory(&config).unwrap_err();
        let (message, debug) = (err.to_string(), format!("{err:?}"));
        assert!(matches!(&err, Error::Config { field, .. } if field == "apiv3Key"), "{message}");
        assert!(message.contains("32-character APIv3 key"), "{message}");
        assert!(wrong.is_empty() || (!message.contains(wrong) && !debug.contains(wrong)), "{message}");
    }
    config["apiv3Key"] = json!(32);
    assert_eq!(config_error(config).0, "apiv3Key");
}

#[test]
fn auto_refresh_reads_the_php_shape_and_needs_the_apiv3_key() {
    let mut config = php();
    config["apiv3Key"] = json!(APIV3_KEY);
    config["autoRefresh"] = json!(true);
    let refresh = Builder::factory(&config).unwrap().config().auto_refresh().cloned().unwrap();
    assert_eq!(refresh, wechatpay::AutoRefresh::default());

    config["autoRefresh"] = json!({"interval": 3600, "minGap": 5});
    let refresh = Builder::factory(&config).unwrap().config().auto_refresh().cloned().unwrap();
    assert_eq!(refresh.interval, Some(std::time::Duration::from_secs(3600)));
    assert_eq!(refresh.min_gap, std::time::Duration::from_secs(5));
    config["autoRefresh"] = json!({"interval": null});
    assert_eq!(Builder::factory(&config).unwrap().config().auto_refresh().unwrap().interval, None);
    config["autoRefresh"] = json!(false);
    assert!(Builder::factory(&config).unwrap().config().auto_refresh().is_none());

    for (value, field) in [
        (json!({"intervall": 60}), "autoRefresh.intervall"),
        (json!({"interval": -1}), "autoRefresh.interval"),
        (json!({"minGap": "soon"}), "autoRefresh.minGap"),
        (json!("yes"), "autoRefresh"),
    ] {
        config["autoRefresh"] = value;
        assert_eq!(config_error(config.clone()).0, field);
    }

    let mut no_key = php();
    no_key["autoRefresh"] = json!(true);
    let (field, reason) = config_error(no_key);
    assert_eq!(field, "autoRefresh");
    assert!(reason.contains("apiv3Key"), "{reason}");

    let custom_verifier = Config::builder()
        .mchid("1900000001")
        .serial("5F1C72E2A8931B72A2E13AF8DEE92471EB397115")
        .private_key(PrivateKey::load("file://tests/fixtures/merchant_private_key.pem").unwrap())
        .verifier(wechatpay::PlatformKeys::new())
        .apiv3_key(APIV3_KEY)
        .auto_refresh(wechatpay::AutoRefresh::default())
        .build();
    assert!(matches!(custom_verifier, Err(Error::Config { ref field, .. }) if field == "autoRefresh"));

    // With refresh, certs may start empty; without, they may not.
    let mut empty = php();
    empty["certs"] = json!({});
    empty["apiv3Key"] = json!(APIV3_KEY);
    assert_eq!(config_error(empty.clone()).0, "certs");
    empty["autoRefresh"] = json!({"interval": null});
    assert!(Builder::factory(&empty).unwrap().config().platform_keys().unwrap().is_empty());
}

#[test]
fn an_expired_platform_certificate_may_be_configured_and_is_reported_by_its_validity() {
    // The fixture expired in 2025; configuring it is allowed (a public key may be configured beside it), and the
    // keys remember it is a certificate with a validity.
    let instance = Builder::factory(php()).unwrap();
    let keys = instance.config().platform_keys().unwrap();
    let certificate = keys.certificate("440024045C4A427599D09BB4E3DE0279F2E813FD").unwrap();
    assert!(certificate.not_after() < std::time::SystemTime::now());
    assert_eq!(
        keys.encryption_key().map(|(serial, _)| serial).as_deref(),
        Some("PUB_KEY_ID_0114232134912410000000000000000")
    );
}

/// Every chain adds its own version segment: a base URI holding one would send `.../v3/v3/...` and meet a 404 later,
/// so it is refused when built; a prefix without a version (a gateway's, or `/hk/`) is kept and reaches the same
/// paths the typed tree does.
#[test]
fn a_base_uri_with_a_version_segment_is_refused_and_other_prefixes_are_kept() {
    for base in [
        "https://api.mch.weixin.qq.com/v3/",
        "https://api.mch.weixin.qq.com/v3",
        "https://api.mch.weixin.qq.com/hk/v3/",
        "https://gateway.example/wechatpay/V2/",
    ] {
        let mut config = php();
        config["base_uri"] = json!(base);
        let (field, reason) = config_error(config);
        assert_eq!(field, "base_uri");
        assert!(reason.contains("version segment"), "{base}: {reason}");
        assert!(reason.contains("https://api.mch.weixin.qq.com/"), "{base}: {reason}");
    }
    let mut config = php();
    config["base_uri"] = json!("https://gateway.example/wechatpay");
    let gateway = Builder::factory(config).unwrap();
    assert_eq!(gateway.v3().certificates().url(()).unwrap(), "https://gateway.example/wechatpay/v3/certificates");
    let mut config = php();
    config["base_uri"] = json!("https://api.mch.weixin.qq.com/hk/");
    let hk_prefix = Builder::factory(config).unwrap();
    let default_host = Builder::factory(php()).unwrap();
    assert_eq!(hk_prefix.chain("v3/statements").url(()).unwrap(), default_host.hk().v3().statements().url(()).unwrap());
}

/// APIv3 has no per-request host: the error says how to reach the backup and overseas hosts instead.
#[test]
fn a_per_request_base_uri_on_apiv3_says_how_to_reach_another_host() {
    let instance = Builder::factory(php()).unwrap();
    let err = instance.v3().certificates().url(json!({"base_uri": "https://api2.mch.weixin.qq.com/"})).unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, Error::Options { .. }), "{err:?}");
    assert!(message.contains("BACKUP_BASE_URI") && message.contains("HK_BASE_URI"), "{message}");
}

#[test]
fn an_apiv2_per_request_base_uri_with_a_version_segment_is_refused() {
    let mut config = php();
    config["secret"] = json!("192006250b4c09247ec02edce69f6a2d");
    let instance = Builder::factory(config).unwrap();
    let xml = json!({"mch_id": "1900000001", "sign_type": "MD5"});
    let fraud = instance.v2().risk().getpublickey();
    let url = fraud.url(json!({"xml": xml, "base_uri": "https://fraud.mch.weixin.qq.com/"})).unwrap();
    assert!(url.starts_with("https://fraud.mch.weixin.qq.com/risk/getpublickey"), "{url}");
    let err = fraud.url(json!({"xml": xml, "base_uri": "https://fraud.mch.weixin.qq.com/v2/"})).unwrap_err();
    assert!(err.to_string().contains("version segment `v2`"), "{err}");
}
