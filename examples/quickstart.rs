//! Quickstart: a transfer to a QQ wallet, created, queried, cancelled and queried again.
//!
//! `cargo run --example quickstart` runs it against the embedded WeChat Pay simulator: no credentials needed.
//!
//! With real credentials in the environment it talks to that server instead, and makes only harmless calls:
//!
//! ```sh
//! WECHATPAY_MCHID=1900000001 \
//! WECHATPAY_SERIAL=5F1C72E2A8931B72A2E13AF8DEE92471EB397115 \
//! WECHATPAY_PRIVATE_KEY=/path/to/apiclient_key.pem \
//! WECHATPAY_PUBLIC_KEY=/path/to/pub_key.pem WECHATPAY_PUBLIC_KEY_ID=PUB_KEY_ID_0114... \
//! WECHATPAY_OUT_BILL_NO=plfk2020042013 \
//! cargo run --example quickstart
//! ```
//! (`WECHATPAY_CERTIFICATE=/path/to/platform_cert.pem` may replace or join the public key; `WECHATPAY_BASE_URI`
//! overrides `https://api.mch.weixin.qq.com/`.)

use std::env;

use serde_json::{Value, json};
use wechatpay::crypto::{Certificate, PrivateKey, PublicKey};
use wechatpay::{Builder, Config, Error};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    match env::var("WECHATPAY_MCHID") {
        Ok(mchid) => real_server(&mchid),
        Err(_) => simulator(),
    }
}

/// The transfer story against wechatpay-mock, started in-process on 127.0.0.1.
fn simulator() -> Result<(), Box<dyn std::error::Error>> {
    let server = wechatpay_mock::Server::start_blocking()?;
    let ids = server.identities();
    println!("wechatpay-mock is listening on {} (merchant {})\n", server.base_uri(), ids.mchid);

    // The PHP SDK's config array, as a JSON value; keys may also be file:// paths.
    let instance = Builder::factory(json!({
        "mchid": ids.mchid,
        "serial": ids.merchant.serial,
        "privateKey": ids.merchant.private_key_pem,
        "certs": {
            ids.platform.serial.clone(): ids.platform.certificate_pem,
            ids.public_key.id.clone(): ids.public_key.public_key_pem,
        },
        "base_uri": server.base_uri(),
    }))?;

    let bills = instance.v3().fund_app().mch_transfer().transfer_to_qq_wallet_bills();
    let out_bill_no = "plfk2020042013";

    let created = bills.post(json!({"json": {
        "appid": "102022609",
        "out_bill_no": out_bill_no,
        "transfer_scene_id": "1401",
        "transfer_scene_report_infos": [{"info_type": "活动名称", "info_content": "注册会员有礼"}],
        "openid": "o-MYE42l80oelYMDE34nYD456Xoy",
        "transfer_amount": 400,
        "transfer_remark": "2020年4月报销",
    }}))?;
    show("1. create (POST v3/fund-app/mch-transfer/transfer-to-qq-wallet-bills)", &created)?;

    let queried = bills._out_bill_no_().get(json!({"out_bill_no": out_bill_no}))?;
    show("2. query (GET .../transfer-to-qq-wallet-bills/{out_bill_no})", &queried)?;

    // The cancel as WeChat Pay's documentation writes it, in the index style: no `json` key, so no body;
    // `out_bill_no` fills the placeholder.
    let cancelled = instance["v3/fund-app/mch-transfer/transfer-to-qq-wallet-bills/{out_bill_no}/cancel"]
        .post(json!({"out_bill_no": out_bill_no}))?;
    show("3. cancel (POST .../{out_bill_no}/cancel)", &cancelled)?;

    server.advance_transfer(out_bill_no)?;
    let again = bills._out_bill_no_().get(json!({"out_bill_no": out_bill_no}))?;
    show("4. query again", &again)?;

    match bills._out_bill_no_().get(json!({"out_bill_no": "no-such-bill"})) {
        Err(err @ Error::Api { .. }) => println!("5. an unknown bill is a typed error:\n   {err}"),
        other => println!("5. unexpected: {other:?}"),
    }
    Ok(())
}

fn show(title: &str, response: &wechatpay::Response) -> Result<(), Box<dyn std::error::Error>> {
    let answer: Value = response.json()?;
    println!(
        "{title}\n   verified by {}, Request-ID {}\n   state={} out_bill_no={} transfer_bill_no={}\n",
        response.verified_by().unwrap_or("-"),
        response.request_id().unwrap_or("-"),
        answer["state"],
        answer["out_bill_no"],
        answer["transfer_bill_no"],
    );
    Ok(())
}

/// Harmless calls against a real server: certificates (when the merchant has them) and one bill query.
fn real_server(mchid: &str) -> Result<(), Box<dyn std::error::Error>> {
    let required = |name: &str| env::var(name).map_err(|_| format!("{name} is required when WECHATPAY_MCHID is set"));
    let mut config = Config::builder()
        .mchid(mchid)
        .serial(required("WECHATPAY_SERIAL")?)
        .private_key(PrivateKey::from_file(required("WECHATPAY_PRIVATE_KEY")?)?);
    if let Ok(path) = env::var("WECHATPAY_PUBLIC_KEY") {
        config = config.public_key(required("WECHATPAY_PUBLIC_KEY_ID")?, PublicKey::from_file(path)?);
    }
    if let Ok(path) = env::var("WECHATPAY_CERTIFICATE") {
        config = config.platform_certificate(Certificate::from_file(path)?);
    }
    if let Ok(base_uri) = env::var("WECHATPAY_BASE_URI") {
        config = config.base_uri(base_uri);
    }
    let instance = Builder::factory(config)?;
    println!("talking to {} as merchant {mchid}\n", instance.config().base_uri());

    match instance.v3().certificates().get(()) {
        Ok(response) => {
            let answer: Value = response.json()?;
            for certificate in answer["data"].as_array().into_iter().flatten() {
                println!("platform certificate {} expires {}", certificate["serial_no"], certificate["expire_time"]);
            }
        }
        Err(Error::Api { status: 404, code, .. }) if code == "RESOURCE_NOT_EXISTS" => {
            println!("no platform certificates: this merchant uses the WeChat Pay public key only");
        }
        Err(err) => println!("GET v3/certificates: {err}"),
    }

    if let Ok(out_bill_no) = env::var("WECHATPAY_OUT_BILL_NO") {
        let bill = &instance["v3/fund-app/mch-transfer/transfer-to-qq-wallet-bills/{out_bill_no}"];
        match bill.get(json!({"out_bill_no": out_bill_no})) {
            Ok(response) => show(&format!("QQ-wallet transfer {out_bill_no}"), &response)?,
            Err(err) => println!("query of {out_bill_no}: {err}"),
        }
    }
    Ok(())
}
