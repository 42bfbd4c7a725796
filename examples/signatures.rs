//! Signatures made for the client side: the JSAPI / mini program and APP pay parameters (RSA, merchant key) and the
//! merchant coupon parameters (HMAC-SHA256 with the APIv2 key), as the PHP README builds them by hand and as the SDK
//! builds them in one call.
//!
//! `cargo run --example signatures` runs against the embedded WeChat Pay simulator (for the prepay_id).

use serde_json::{Map, Value, json};
use wechatpay::crypto::{Hash, Rsa};
use wechatpay::{Builder, Formatter};

const APPID: &str = "wxd678efh567hg6787";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let server = wechatpay_mock::Server::start_blocking()?;
    let instance = Builder::factory(server.php_config())?;
    let ids = server.identities();

    // A JSAPI order gives the prepay_id the page needs.
    let order: Value = instance
        .v3()
        .pay()
        .transactions()
        .jsapi()
        .post(json!({"json": {
            "mchid": ids.mchid, "out_trade_no": "SIGN1", "appid": APPID, "description": "QQ公仔",
            "notify_url": "https://example.com/notify", "amount": {"total": 1},
            "payer": {"openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},
        }}))?
        .json()?;
    let prepay_id = order["prepay_id"].as_str().unwrap_or_default();

    // By hand, as in PHP: Rsa::sign(Formatter::joinedByLineFeed(appId, timeStamp, nonceStr, package), $key).
    let key = Rsa::from_private(&ids.merchant.private_key_pem)?;
    let (time_stamp, nonce_str) = (Formatter::timestamp().to_string(), Formatter::nonce(32)?);
    let package = format!("prepay_id={prepay_id}");
    let pay_sign = Rsa::sign(Formatter::joined_by_line_feed(&[APPID, &time_stamp, &nonce_str, &package]), &key)?;
    println!(
        "by hand: {}",
        json!({
            "appId": APPID, "timeStamp": time_stamp, "nonceStr": nonce_str, "package": package,
            "signType": "RSA", "paySign": pay_sign,
        })
    );

    // In one call, for WeixinJSBridge / wx.requestPayment and for the app SDK's PayReq.
    println!("jsapi:   {}", serde_json::to_string(&instance.jsapi_pay_params(APPID, prepay_id)?)?);
    println!("app:     {}", serde_json::to_string(&instance.app_pay_params(APPID, prepay_id)?)?);

    // Merchant coupons (商家券), mini program: send_coupon_params flattened into stock_id0, out_request_no0, ...
    let apiv2_key = ids.apiv2_key.as_str();
    let send_coupon_params = [("1234567", "abc123"), ("7654321", "321cba")]; // (out_request_no, stock_id)
    let mut flat = Map::new();
    flat.insert("send_coupon_merchant".into(), json!("10016226"));
    for (index, (out_request_no, stock_id)) in send_coupon_params.iter().enumerate() {
        flat.insert(format!("out_request_no{index}"), json!(out_request_no));
        flat.insert(format!("stock_id{index}"), json!(stock_id));
    }
    let signed = Formatter::query_string_like(Formatter::ksort(&flat));
    println!("coupons: {signed}\n         sign={}", Hash::sign(Hash::ALGO_HMAC_SHA256, &signed, apiv2_key)?);

    // H5: the parameters as they are.
    let h5 = [
        ("stock_id", "12111100000001"),
        ("out_request_no", "20191204550002"),
        ("send_coupon_merchant", "10016226"),
        ("open_id", "oVvBvwEurkeUJpBzX90-6MfCHbec"),
        ("coupon_code", "75345199"),
    ];
    let signed = Formatter::query_string_like(Formatter::ksort(h5));
    println!("h5:      {signed}\n         sign={}", Hash::sign(Hash::ALGO_HMAC_SHA256, &signed, apiv2_key)?);
    Ok(())
}
