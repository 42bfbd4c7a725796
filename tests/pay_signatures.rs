//! JSAPI / mini program and APP pay signatures: checked against signatures computed by hand with `Formatter` and
//! `Rsa::sign`, verified with the merchant's public key, and serialised with the front end's field names.

mod common;

use serde_json::json;
use wechatpay::crypto::{Certificate, PrivateKey, Rsa};
use wechatpay::{AppPayParams, Error, Formatter, JsapiPayParams};

fn merchant_key() -> PrivateKey {
    PrivateKey::load("file://tests/fixtures/merchant_private_key.pem").unwrap()
}

#[test]
fn jsapi_pay_sign_is_the_hand_computed_signature() {
    let key = merchant_key();
    let params = JsapiPayParams::sign("wx8888888888888888", "wx201410272009395522657a690389285100", &key).unwrap();
    // By hand, as the PHP README does it: appId, timeStamp, nonceStr, package, joined by line feeds.
    let message = Formatter::joined_by_line_feed(&[
        "wx8888888888888888",
        params.time_stamp.as_str(),
        params.nonce_str.as_str(),
        "prepay_id=wx201410272009395522657a690389285100",
    ]);
    assert_eq!(params.pay_sign, Rsa::sign(&message, &key).unwrap(), "PKCS#1 v1.5 signatures are deterministic");
    let certificate = Certificate::load("file://tests/fixtures/merchant_certificate.pem").unwrap();
    assert!(Rsa::verify(&message, &params.pay_sign, certificate.public_key()).unwrap());
    assert!((params.time_stamp.parse::<i64>().unwrap() - Formatter::timestamp()).abs() < 60);
    assert_eq!(params.nonce_str.len(), 32);

    let json = serde_json::to_value(&params).unwrap();
    assert_eq!(
        json,
        json!({
            "appId": "wx8888888888888888", "timeStamp": params.time_stamp, "nonceStr": params.nonce_str,
            "package": "prepay_id=wx201410272009395522657a690389285100", "signType": "RSA", "paySign": params.pay_sign,
        })
    );
    assert_eq!(serde_json::from_value::<JsapiPayParams>(json).unwrap(), params);
}

#[test]
fn app_sign_is_the_hand_computed_signature() {
    let key = merchant_key();
    let params =
        AppPayParams::sign("wxd678efh567hg6787", "1900000001", "WX1217752501201407033233368018", &key).unwrap();
    let message = Formatter::joined_by_line_feed(&[
        "wxd678efh567hg6787",
        params.timestamp.as_str(),
        params.noncestr.as_str(),
        "WX1217752501201407033233368018",
    ]);
    assert_eq!(params.sign, Rsa::sign(&message, &key).unwrap());
    assert!(Rsa::verify(&message, &params.sign, &key.public_key().unwrap()).unwrap());
    assert_eq!(
        serde_json::to_value(&params).unwrap(),
        json!({
            "appid": "wxd678efh567hg6787", "partnerid": "1900000001", "prepayid": "WX1217752501201407033233368018",
            "package": "Sign=WXPay", "noncestr": params.noncestr, "timestamp": params.timestamp, "sign": params.sign,
        })
    );
}

#[test]
fn a_prepay_id_from_the_simulator_signs_with_the_builders_key() {
    let server = common::mock();
    let instance = common::client(&server);
    let ids = server.identities();
    let order: serde_json::Value = instance
        .v3()
        .pay()
        .transactions()
        .app()
        .post(json!({"json": {
            "appid": "wxd678efh567hg6787", "mchid": ids.mchid, "description": "Image形象店-深圳腾大-QQ公仔",
            "out_trade_no": common::bill_no("APP"), "notify_url": "https://www.weixin.qq.com/wxpay/pay.php",
            "amount": {"total": 100},
        }}))
        .unwrap()
        .json()
        .unwrap();
    let prepay_id = order["prepay_id"].as_str().unwrap();
    let merchant = Certificate::from_pem(&ids.merchant.certificate_pem).unwrap();

    let app = instance.app_pay_params("wxd678efh567hg6787", prepay_id).unwrap();
    assert_eq!((app.partnerid.as_str(), app.prepayid.as_str()), (ids.mchid.as_str(), prepay_id));
    assert!(Rsa::verify(app.message(), &app.sign, merchant.public_key()).unwrap());
    let jsapi = instance.jsapi_pay_params("wxd678efh567hg6787", prepay_id).unwrap();
    assert!(Rsa::verify(jsapi.message(), &jsapi.pay_sign, merchant.public_key()).unwrap());
}

#[test]
fn missing_or_multi_line_parameters_are_refused() {
    let key = merchant_key();
    for (appid, prepay_id, name) in [("", "wx1", "appid"), ("wx1", " ", "prepay_id"), ("wx1\nwx2", "wx1", "appid")] {
        let err = JsapiPayParams::sign(appid, prepay_id, &key).unwrap_err();
        assert!(matches!(err, Error::InvalidArgument { name: n, .. } if n == name), "{err}");
    }
    let err = AppPayParams::sign("wx1", "1900000001", "wx\r\n1", &key).unwrap_err();
    assert!(err.to_string().contains("one line"), "{err}");
    // A package-style prepay id is not doubled.
    let params = JsapiPayParams::sign("wx1", "prepay_id=wx2", &key).unwrap();
    assert_eq!(params.package, "prepay_id=wx2");
}
