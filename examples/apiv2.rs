//! APIv2 (XML) against the embedded simulator: a code payment (micropay, query, reverse), one that waits for the
//! payer's password, a refund (request, query, the `req_info` callback), a red packet over mutual TLS and a bill.
//!
//! `cargo run --example apiv2`: no credentials needed, nothing leaves 127.0.0.1. (These calls move money, so the
//! example never talks to a real server.)

use serde_json::{Map, Value, json};
use wechatpay::{Builder, Error, XmlNotification};

const APPID: &str = "wxd930ea5d5a258f4f";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let server = wechatpay_mock::Server::start_blocking()?;
    let ids = server.identities();
    println!("wechatpay-mock: {} (mutual TLS: {}), merchant {}\n", server.base_uri(), server.tls_base_uri(), ids.mchid);

    // The PHP SDK's config array: APIv2 needs `secret` (the APIv2 key) and, for `security` endpoints, `merchant`
    // (apiclient_cert.pem and apiclient_key.pem). `verify` trusts the simulator's TLS CA (Guzzle's option).
    let instance = Builder::factory(json!({
        "mchid": ids.mchid,
        "serial": ids.merchant.serial,
        "privateKey": ids.merchant.private_key_pem,
        "certs": {ids.platform.serial.clone(): ids.platform.certificate_pem},
        "secret": ids.apiv2_key,
        "merchant": {"cert": ids.merchant.certificate_pem, "key": ids.merchant.private_key_pem},
        "base_uri": server.base_uri(),
        "verify": server.tls_ca_pem(),
    }))?;
    let mchid = ids.mchid.as_str();
    // WeChat Pay serves `security` endpoints on the same host; the simulator on a second, TLS-only listener.
    let secure = server.tls_base_uri();

    // 1. A code payment: paid at once, then queried.
    let paid = instance.v2().pay().micropay().post(json!({"xml": {
        "appid": APPID, "mch_id": mchid, "body": "image形象店-深圳腾大- QQ公仔", "out_trade_no": "1217752501201407033233368018",
        "total_fee": 888, "spbill_create_ip": "127.0.0.1", "auth_code": "120061098828009406",
    }}))?;
    show("1. micropay (POST v2/pay/micropay)", &paid.xml()?, &["result_code", "transaction_id", "total_fee"]);
    println!("   sign checked: {}\n", paid.verified_by().unwrap_or("-"));
    let queried = orderquery(&instance, mchid, "1217752501201407033233368018")?;
    show("2. orderquery", &queried, &["trade_state", "time_end"]);

    // 2. A big one waits for the payer's password: USERPAYING, then query until it ends.
    let big = instance["v2/pay/micropay"].post(json!({"xml": {
        "appid": APPID, "mch_id": mchid, "body": "a big one", "out_trade_no": "1217752501201407033233368019",
        "total_fee": 100_000, "spbill_create_ip": "127.0.0.1", "auth_code": "120061098828009406",
        "sign_type": "HMAC-SHA256",
    }}));
    match big {
        Err(Error::ApiV2(failure)) if failure.err_code.as_deref() == Some("USERPAYING") => {
            println!("3. micropay of 1000.00: {failure}");
            // A real till queries every few seconds for up to about 30 s, then reverses.
            for _ in 0..10 {
                let state = orderquery(&instance, mchid, "1217752501201407033233368019")?;
                println!("   orderquery: trade_state={}", state["trade_state"]);
                if state["trade_state"] != "USERPAYING" {
                    break;
                }
            }
            println!();
        }
        other => println!("3. unexpected: {other:?}\n"),
    }

    // 3. Reversal needs the merchant certificate: `security: true`.
    let reversed = instance.v2().secapi().pay().reverse().post(json!({
        "xml": {"appid": APPID, "mch_id": mchid, "out_trade_no": "1217752501201407033233368019"},
        "security": true,
        "base_uri": secure,
    }))?;
    show("4. reverse (mutual TLS)", &reversed.xml()?, &["result_code", "recall"]);
    show("   orderquery", &orderquery(&instance, mchid, "1217752501201407033233368019")?, &["trade_state"]);

    // 4. A refund, queried until it ends, then its callback with the encrypted req_info.
    let refund = instance.v2().secapi().pay().refund().post(json!({
        "xml": {"appid": APPID, "mch_id": mchid, "out_trade_no": "1217752501201407033233368018",
                "out_refund_no": "1217752501201407033233368018R1", "total_fee": 888, "refund_fee": 300},
        "security": true,
        "base_uri": secure,
    }))?;
    show("5. refund (mutual TLS)", &refund.xml()?, &["result_code", "refund_id", "refund_fee"]);
    for _ in 0..10 {
        let status = instance.v2().pay().refundquery().post(json!({"xml": {
            "appid": APPID, "mch_id": mchid, "out_refund_no": "1217752501201407033233368018R1",
        }}))?;
        let status = status.xml()?;
        println!("   refundquery: refund_status_0={}", status["refund_status_0"]);
        if status["refund_status_0"] != "PROCESSING" {
            break;
        }
    }
    // What WeChat Pay POSTs to the refund notify_url, and what the merchant's handler does with it.
    let callback = server.v2_refund_notification("1217752501201407033233368018R1")?;
    let refunded = XmlNotification::decrypt_refund(&callback, &ids.apiv2_key)?;
    println!(
        "   refund callback: req_info decrypted: out_refund_no={} refund_status={} success_time={}\n   reply: {}\n",
        refunded.get("out_refund_no").unwrap_or("-"),
        refunded.get("refund_status").unwrap_or("-"),
        refunded.get("success_time").unwrap_or("-"),
        XmlNotification::success(),
    );

    // 5. A red packet: mutual TLS, and an unsigned answer (as WeChat Pay sends it).
    let red_packet = instance.v2().mmpaymkttransfers().sendredpack().post(json!({
        "xml": {"mch_billno": "10000098201411111234567890", "mch_id": mchid, "wxappid": APPID,
                "send_name": "天虹百货", "re_openid": "oxTWIuGaIt6gTKsQRLau2M0yL16E", "total_amount": 1000,
                "total_num": 1, "wishing": "感谢您参加猜灯谜活动", "client_ip": "192.168.0.1",
                "act_name": "猜灯谜抢红包活动", "remark": "猜越多得越多"},
        "security": true,
        "base_uri": secure,
    }))?;
    show("6. sendredpack (mutual TLS, unsigned answer)", &red_packet.xml()?, &["result_code", "send_listid"]);

    // 6. The bill: plain text (or gzip with tar_type=GZIP), not XML.
    let bill = instance.v2().pay().downloadbill().post(json!({"xml": {
        "appid": APPID, "mch_id": mchid, "bill_date": "20140603", "bill_type": "ALL",
    }}))?;
    println!("7. downloadbill:\n{}", bill.text()?);
    Ok(())
}

fn orderquery(instance: &Builder, mchid: &str, out_trade_no: &str) -> wechatpay::Result<Map<String, Value>> {
    let answer = instance.v2().pay().orderquery().post(json!({"xml": {
        "appid": APPID, "mch_id": mchid, "out_trade_no": out_trade_no,
    }}))?;
    answer.xml()
}

fn show(title: &str, answer: &Map<String, Value>, fields: &[&str]) {
    let shown: Vec<String> = fields
        .iter()
        .map(|field| format!("{field}={}", answer.get(*field).and_then(Value::as_str).unwrap_or("-")))
        .collect();
    println!("{title}\n   {}\n", shown.join(" "));
}
