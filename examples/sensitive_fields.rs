//! Sensitive fields: names, ID numbers and phones leave RSA-OAEP encrypted with a WeChat Pay key named in
//! `Wechatpay-Serial`, and come back encrypted for the merchant key. PHP's `$encryptor` closure, then the SDK's
//! `encrypt_fields` and `decrypt_fields`.
//!
//! `cargo run --example sensitive_fields` runs against the embedded WeChat Pay simulator, which decrypts what it
//! receives and encrypts what it answers.

use serde_json::{Value, json};
use wechatpay::crypto::Rsa;
use wechatpay::{Builder, Options};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let server = wechatpay_mock::Server::start_blocking()?;
    let instance = Builder::factory(server.php_config())?;
    let ids = server.identities();
    let bills = instance.v3().fund_app().mch_transfer().transfer_to_qq_wallet_bills();
    let transfer = |out_bill_no: &str, user_name: Value| {
        json!({
            "appid": "102022609", "out_bill_no": out_bill_no, "transfer_scene_id": "1401",
            "transfer_scene_report_infos": [{"info_type": "活动名称", "info_content": "注册会员有礼"}],
            "openid": "o-MYE42l80oelYMDE34nYD456Xoy", "transfer_amount": 400, "transfer_remark": "2020年4月报销",
            "user_name": user_name,
        })
    };

    // 1. As in PHP: an encryptor over the platform public key, and its serial in Wechatpay-Serial.
    let platform_public_key = Rsa::from_public(&ids.platform.certificate_pem)?;
    let encryptor = |message: &str| Rsa::encrypt(message, &platform_public_key);
    bills.post(json!({
        "json": transfer("plfk2020042013", encryptor("张三")?.into()),
        "headers": {"Wechatpay-Serial": ids.platform.serial},
    }))?;
    println!("1. sent user_name encrypted by hand, Wechatpay-Serial {}", ids.platform.serial);

    // 2. The SDK's way: it picks the key (the WeChat Pay public key when configured) and sets the header.
    bills.post(Options::new().json(&transfer("plfk2020042014", "李四".into())).encrypt_fields(["user_name"]))?;
    println!("2. sent user_name with encrypt_fields, key {}", instance.config().encryptor()?.serial());

    // 3. Downward: the answer's user_name is encrypted for the merchant key.
    for out_bill_no in ["plfk2020042013", "plfk2020042014"] {
        let mut bill: Value = bills._out_bill_no_().get(json!({"out_bill_no": out_bill_no}))?.json()?;
        let ciphertext = bill["user_name"].as_str().unwrap_or_default().chars().take(24).collect::<String>();
        instance.config().decrypt_fields(&mut bill, &["user_name"])?;
        println!("3. {out_bill_no}: user_name {ciphertext}... decrypts to {}", bill["user_name"]);
    }

    // A field the body does not have is an error, never a field sent in clear.
    let typo = bills.post(Options::new().json(&transfer("plfk2020042015", "王五".into())).encrypt_fields(["username"]));
    println!("4. {}", typo.unwrap_err());
    Ok(())
}
