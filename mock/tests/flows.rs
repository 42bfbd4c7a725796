//! The stateful endpoints, driven over HTTP with answers verified.

mod common;

use std::io::Read as _;
use std::time::Duration;

use common::{Client, aes_gcm_decrypt, cert_info, ids, oaep_decrypt, oaep_encrypt, pem_der, server};
use serde_json::{Value, json};
use sha1::{Digest as _, Sha1};
use sha2::Sha256;
use wechatpay_mock::{RefundStatus, Server, TradeState, TransferState};

const QQ: &str = "/v3/fund-app/mch-transfer/transfer-to-qq-wallet-bills";
const BILLS: &str = "/v3/fund-app/mch-transfer/transfer-bills";

fn qq_body(out_bill_no: &str) -> Value {
    json!({
        "appid": "102022609",
        "out_bill_no": out_bill_no,
        "transfer_scene_id": "1401",
        "transfer_scene_report_infos": [{ "info_type": "活动名称", "info_content": "注册会员有礼" }],
        "openid": "o-MYE42l80oelYMDE34nYD456Xoy",
        "transfer_amount": 400000,
        "transfer_remark": "2020年4月报销",
    })
}

#[tokio::test]
async fn certificates_decrypt_with_the_apiv3_key_and_verify_the_answer() {
    let server = server().await;
    let c = Client::new(&server);
    let a = c.call_verified("GET", "/v3/certificates", None).await;
    let data = &a.json()["data"][0];
    assert_eq!(data["serial_no"], json!(c.ids.platform.serial));
    assert_eq!(data["encrypt_certificate"]["algorithm"], "AEAD_AES_256_GCM");
    assert!(data["effective_time"].as_str().is_some_and(|t| t.ends_with("+08:00")));
    let pem = String::from_utf8(aes_gcm_decrypt(&c.ids.apiv3_key, &data["encrypt_certificate"])).expect("utf8");
    assert_eq!(pem, c.ids.platform.certificate_pem);
    let (serial, _) = cert_info(&pem);
    assert_eq!(serial, c.ids.platform.serial);
    let a = c.call("GET", "/v3/certificates?algorithm_type=BOGUS", None).await;
    assert_eq!((a.status, a.code().as_str()), (400, "PARAM_ERROR"));
}

#[tokio::test]
async fn qq_wallet_transfer_state_machine_cancel_and_idempotency() {
    let server = server().await;
    let c = Client::new(&server);
    let created = c.call_verified("POST", QQ, Some(&qq_body("plfk2020042013"))).await;
    assert_eq!(created.status, 200, "{}", created.message());
    let bill = created.json();
    assert_eq!(bill["state"], "ACCEPTED");
    assert_eq!(bill["mchid"], json!(c.ids.mchid));
    assert_eq!(bill["transfer_bill_no"].as_str().map(str::len), Some(40));

    // The same create again answers the same bill.
    let again = c.call_verified("POST", QQ, Some(&qq_body("plfk2020042013"))).await;
    assert_eq!(again.json()["transfer_bill_no"], bill["transfer_bill_no"]);
    // The same out_bill_no with another amount is refused.
    let mut other = qq_body("plfk2020042013");
    other["transfer_amount"] = json!(1);
    let conflict = c.call_verified("POST", QQ, Some(&other)).await;
    assert_eq!((conflict.status, conflict.code().as_str()), (400, "INVALID_REQUEST"));

    let query = format!("{QQ}/plfk2020042013");
    assert_eq!(c.call_verified("GET", &query, None).await.json()["state"], "ACCEPTED");
    assert_eq!(server.advance_transfer("plfk2020042013").ok(), Some(TransferState::Processing));
    assert_eq!(server.advance_transfer("plfk2020042013").ok(), Some(TransferState::WaitUserConfirm));
    let q = c.call_verified("GET", &query, None).await.json();
    assert_eq!(q["state"], "WAIT_USER_CONFIRM");
    assert_eq!(q["transfer_remark"], "2020年4月报销");

    let cancel = format!("{QQ}/plfk2020042013/cancel");
    let cancelled = c.call_verified("POST", &cancel, None).await;
    assert_eq!(cancelled.status, 200);
    assert_eq!(cancelled.json()["state"], "CANCELING");
    assert_eq!(c.call_verified("POST", &cancel, None).await.json()["state"], "CANCELING");
    assert_eq!(server.advance_transfer("plfk2020042013").ok(), Some(TransferState::Cancelled));
    assert_eq!(c.call_verified("GET", &query, None).await.json()["state"], "CANCELLED");
    assert!(server.advance_transfer("plfk2020042013").is_err(), "final states do not advance");

    // Cancel after SUCCESS is a bad state; unknown bills are NOT_FOUND.
    c.call_verified("POST", QQ, Some(&qq_body("done1"))).await;
    server.set_transfer_state("done1", TransferState::Success).expect("known bill");
    let late = c.call_verified("POST", &format!("{QQ}/done1/cancel"), None).await;
    assert_eq!((late.status, late.code().as_str()), (400, "INVALID_REQUEST"));
    let fail_bill = c.call_verified("POST", QQ, Some(&qq_body("failing"))).await;
    assert_eq!(fail_bill.status, 200);
    server.set_transfer_state("failing", TransferState::Fail).expect("known bill");
    let q = c.call_verified("GET", &format!("{QQ}/failing"), None).await.json();
    assert_eq!(q["state"], "FAIL");
    assert!(q["fail_reason"].as_str().is_some());
    let missing = c.call_verified("GET", &format!("{QQ}/nope"), None).await;
    assert_eq!((missing.status, missing.code().as_str()), (404, "NOT_FOUND"));
    let missing = c.call_verified("POST", &format!("{QQ}/nope/cancel"), None).await;
    assert_eq!((missing.status, missing.code().as_str()), (404, "NOT_FOUND"));
    assert!(server.set_transfer_state("nope", TransferState::Success).is_err());

    // A missing required field names the field.
    let mut incomplete = qq_body("x1");
    incomplete.as_object_mut().map(|o| o.remove("openid"));
    let a = c.call_verified("POST", QQ, Some(&incomplete)).await;
    assert_eq!((a.status, a.code().as_str()), (400, "PARAM_ERROR"));
    assert!(a.message().contains("openid"), "{}", a.message());
}

#[tokio::test]
async fn transfers_advance_on_their_own_when_asked_to() {
    let server = Server::builder().identities(ids()).auto_advance(Some(Duration::ZERO)).start().await.expect("server");
    let c = Client::new(&server);
    c.call_verified("POST", QQ, Some(&qq_body("auto1"))).await;
    // With a zero step every step is due by the next look.
    let q = c.call_verified("GET", &format!("{QQ}/auto1"), None).await.json();
    assert_eq!(q["state"], "SUCCESS");
    assert_eq!(server.transfer_state("auto1"), Some(TransferState::Success));
}

#[tokio::test]
async fn sensitive_fields_are_decrypted_with_the_key_the_serial_names() {
    let server = server().await;
    let c = Client::new(&server);
    let (platform_serial, platform_spki) = cert_info(&c.ids.platform.certificate_pem);
    let mut body = qq_body("secret1");
    body["user_name"] = json!(oaep_encrypt(&platform_spki, "张三"));

    let no_serial = c.call_verified("POST", QQ, Some(&body)).await;
    assert_eq!((no_serial.status, no_serial.code().as_str()), (400, "PARAM_ERROR"));
    assert!(no_serial.message().contains("Wechatpay-Serial"));
    let wrong = c.call_with("POST", QQ, Some(&body), &[("Wechatpay-Serial", c.ids.public_key.id.clone())]).await;
    assert_eq!((wrong.status, wrong.code().as_str()), (400, "PARAM_ERROR"), "encrypted for another key");
    let unknown = c.call_with("POST", QQ, Some(&body), &[("Wechatpay-Serial", "ABCDEF".into())]).await;
    assert_eq!(unknown.status, 400);

    let ok = c.call_with("POST", QQ, Some(&body), &[("Wechatpay-Serial", platform_serial)]).await;
    assert_eq!(ok.status, 200, "{}", ok.message());
    // The query hands user_name back encrypted for the merchant.
    let q = c.call_verified("GET", &format!("{QQ}/secret1"), None).await.json();
    let name = q["user_name"].as_str().expect("user_name present");
    assert_eq!(oaep_decrypt(&c.ids.merchant.private_key_pem, name), "张三");

    // The public key works the same way.
    let mut body = qq_body("secret2");
    body["user_name"] = json!(oaep_encrypt(&pem_der(&c.ids.public_key.public_key_pem), "李四"));
    let ok = c.call_with("POST", QQ, Some(&body), &[("Wechatpay-Serial", c.ids.public_key.id.clone())]).await;
    assert_eq!(ok.status, 200, "{}", ok.message());
}

#[tokio::test]
async fn merchant_transfer_bills_create_query_cancel() {
    let server = server().await;
    let c = Client::new(&server);
    let mut body = qq_body("mt1");
    body["appid"] = json!("wxf636efh567hg4356");
    body["transfer_scene_id"] = json!("1000");
    let created = c.call_verified("POST", BILLS, Some(&body)).await;
    assert_eq!(created.status, 200, "{}", created.message());
    let bill = created.json();
    assert_eq!(bill["state"], "WAIT_USER_CONFIRM");
    assert!(bill["package_info"].as_str().is_some());
    let by_out = c.call_verified("GET", &format!("{BILLS}/out-bill-no/mt1"), None).await.json();
    assert_eq!(by_out["mch_id"], json!(c.ids.mchid));
    let no = bill["transfer_bill_no"].as_str().unwrap_or_default();
    let by_no = c.call_verified("GET", &format!("{BILLS}/transfer-bill-no/{no}"), None).await.json();
    assert_eq!(by_no["out_bill_no"], "mt1");
    let cancel = c.call_verified("POST", &format!("{BILLS}/out-bill-no/mt1/cancel"), None).await;
    assert_eq!(cancel.json()["state"], "CANCELING");
    // A QQ-wallet query does not see merchant transfer bills.
    assert_eq!(c.call("GET", &format!("{QQ}/mt1"), None).await.status, 404);
    assert_eq!(c.call("GET", &format!("{BILLS}/transfer-bill-no/none"), None).await.status, 404);
}

fn order(out_trade_no: &str, mchid: &str) -> Value {
    json!({
        "appid": "wxd678efh567hg6787",
        "mchid": mchid,
        "description": "Image形象店-深圳腾大-QQ公仔",
        "out_trade_no": out_trade_no,
        "notify_url": "https://www.weixin.qq.com/wxpay/pay.php",
        "amount": { "total": 100, "currency": "CNY" },
        "payer": { "openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o" },
    })
}

#[tokio::test]
async fn payments_prepay_query_pay_close_and_refund() {
    let server = server().await;
    let c = Client::new(&server);
    let mchid = c.ids.mchid.clone();
    let native = c.call_verified("POST", "/v3/pay/transactions/native", Some(&order("T1", &mchid))).await;
    assert!(native.json()["code_url"].as_str().is_some_and(|u| u.starts_with("weixin://")));
    let jsapi = c.call_verified("POST", "/v3/pay/transactions/jsapi", Some(&order("T2", &mchid))).await;
    let prepay_id = jsapi.json()["prepay_id"].as_str().unwrap_or_default().to_owned();
    assert!(prepay_id.starts_with("wx"));
    // Retrying the same prepay answers the same prepay_id; changing it is refused.
    let again = c.call_verified("POST", "/v3/pay/transactions/jsapi", Some(&order("T2", &mchid))).await;
    assert_eq!(again.json()["prepay_id"], json!(prepay_id));
    let mut changed = order("T2", &mchid);
    changed["amount"]["total"] = json!(5);
    assert_eq!(c.call("POST", "/v3/pay/transactions/jsapi", Some(&changed)).await.code(), "INVALID_REQUEST");
    let mut no_payer = order("T3", &mchid);
    no_payer.as_object_mut().map(|o| o.remove("payer"));
    let a = c.call_verified("POST", "/v3/pay/transactions/jsapi", Some(&no_payer)).await;
    assert_eq!(a.status, 400);
    assert!(a.message().contains("payer"), "{}", a.message());
    let a = c.call("POST", "/v3/pay/transactions/native", Some(&order("T4", "1900000000"))).await;
    assert_eq!(a.code(), "PARAM_ERROR");

    let q = c.call_verified("GET", &format!("/v3/pay/transactions/out-trade-no/T2?mchid={mchid}"), None).await.json();
    assert_eq!(q["trade_state"], "NOTPAY");
    assert!(q.get("transaction_id").is_none());
    let a = c.call("GET", "/v3/pay/transactions/out-trade-no/T2", None).await;
    assert!(a.status == 400 && a.message().contains("mchid"), "mchid is a required query parameter");

    let transaction_id = server.pay_order("T2").expect("payable");
    assert_eq!(server.trade_state("T2"), Some(TradeState::Success));
    let q =
        c.call_verified("GET", &format!("/v3/pay/transactions/id/{transaction_id}?mchid={mchid}"), None).await.json();
    assert_eq!(q["trade_state"], "SUCCESS");
    assert_eq!(q["out_trade_no"], "T2");
    assert_eq!(q["amount"]["payer_total"], 100);
    let a = c.call_verified("GET", &format!("/v3/pay/transactions/id/4200000?mchid={mchid}"), None).await;
    assert_eq!((a.status, a.code().as_str()), (404, "ORDER_NOT_EXIST"));

    // Close: an unpaid order closes with 204 (signed empty body); a paid one does not.
    let close_body = json!({ "mchid": mchid });
    let closed = c.call_verified("POST", "/v3/pay/transactions/out-trade-no/T1/close", Some(&close_body)).await;
    assert_eq!(closed.status, 204);
    assert!(closed.body.is_empty());
    assert_eq!(server.trade_state("T1"), Some(TradeState::Closed));
    assert_eq!(c.call("POST", "/v3/pay/transactions/native", Some(&order("T1", &mchid))).await.code(), "ORDER_CLOSED");
    let paid = c.call_verified("POST", "/v3/pay/transactions/out-trade-no/T2/close", Some(&close_body)).await;
    assert_eq!(paid.status, 400);

    // Refunds.
    let refund = json!({
        "transaction_id": transaction_id,
        "out_refund_no": "R1",
        "amount": { "refund": 60, "total": 100, "currency": "CNY" },
    });
    let r = c.call_verified("POST", "/v3/refund/domestic/refunds", Some(&refund)).await;
    assert_eq!(r.status, 200, "{}", r.message());
    assert_eq!(r.json()["status"], "PROCESSING");
    assert_eq!(r.json()["out_trade_no"], "T2");
    let again = c.call_verified("POST", "/v3/refund/domestic/refunds", Some(&refund)).await;
    assert_eq!(again.json()["refund_id"], r.json()["refund_id"], "idempotent by out_refund_no");
    let too_much = json!({ "out_trade_no": "T2", "out_refund_no": "R2", "amount": { "refund": 50, "total": 100, "currency": "CNY" } });
    assert_eq!(c.call("POST", "/v3/refund/domestic/refunds", Some(&too_much)).await.code(), "INVALID_REQUEST");
    let unpaid = json!({ "out_trade_no": "T1", "out_refund_no": "R3", "amount": { "refund": 1, "total": 100, "currency": "CNY" } });
    assert_eq!(c.call("POST", "/v3/refund/domestic/refunds", Some(&unpaid)).await.code(), "INVALID_REQUEST");
    let no_order = json!({ "out_refund_no": "R4", "amount": { "refund": 1, "total": 100, "currency": "CNY" } });
    assert_eq!(c.call("POST", "/v3/refund/domestic/refunds", Some(&no_order)).await.code(), "PARAM_ERROR");
    assert_eq!(server.trade_state("T2"), Some(TradeState::Refund));

    server.set_refund_status("R1", RefundStatus::Success).expect("known refund");
    let q = c.call_verified("GET", "/v3/refund/domestic/refunds/R1", None).await.json();
    assert_eq!(q["status"], "SUCCESS");
    assert!(q["success_time"].as_str().is_some());
    let a = c.call_verified("GET", "/v3/refund/domestic/refunds/none", None).await;
    assert_eq!((a.status, a.code().as_str()), (404, "RESOURCE_NOT_EXISTS"));
}

#[tokio::test]
async fn bills_apply_and_download_with_the_right_hash() {
    let server = server().await;
    let c = Client::new(&server);
    let mchid = c.ids.mchid.clone();
    c.call_verified("POST", "/v3/pay/transactions/native", Some(&order("B1", &mchid))).await;
    server.pay_order("B1").expect("payable");
    let today = c
        .call_verified("GET", &format!("/v3/pay/transactions/out-trade-no/B1?mchid={mchid}"), None)
        .await
        .json()["success_time"]
        .as_str()
        .unwrap_or_default()[..10]
        .to_owned();

    for (kind, gzip) in [("tradebill", false), ("tradebill", true), ("fundflowbill", false)] {
        let tar = if gzip { "&tar_type=GZIP" } else { "" };
        let apply = c.call_verified("GET", &format!("/v3/bill/{kind}?bill_date={today}{tar}"), None).await.json();
        assert_eq!(apply["hash_type"], "SHA1");
        let url = apply["download_url"].as_str().unwrap_or_default();
        let target = url.strip_prefix(c.base.as_str()).expect("download_url points at the server");
        let file = c.call("GET", target, None).await;
        assert_eq!(file.status, 200);
        assert!(file.header("Wechatpay-Signature").is_none(), "bill files are not signed");
        let content = if gzip {
            assert_eq!(file.header("Content-Type"), Some("application/x-gzip"));
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(file.body.as_slice()).read_to_end(&mut out).expect("gzip");
            out
        } else {
            file.body.clone()
        };
        let hash: String = Sha1::digest(&content).iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(apply["hash_value"], json!(hash), "{kind} gzip={gzip}");
        let text = String::from_utf8(content).expect("utf8");
        assert!(text.contains("B1"), "the paid order is in the {kind} bill");
    }
    let a = c.call_verified("GET", "/v3/bill/tradebill?bill_date=20200101", None).await;
    assert_eq!((a.status, a.code().as_str()), (400, "PARAM_ERROR"));
    let a = c.call_verified("GET", "/v3/bill/tradebill", None).await;
    assert!(a.message().contains("bill_date"));
    let a = c.call_verified("GET", "/v3/billdownload/file?token=unknown", None).await;
    assert_eq!(a.status, 400);
}

fn multipart(meta: &[u8], file: &[u8]) -> (String, Vec<u8>) {
    let boundary = "----mockboundary7MA4YWxkTrZu0gW";
    let mut body = Vec::new();
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"meta\"\r\nContent-Type: application/json\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(meta);
    body.extend_from_slice(format!("\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\nContent-Type: image/png\r\n\r\n").as_bytes());
    body.extend_from_slice(file);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

#[tokio::test]
async fn uploads_sign_meta_only_and_check_the_file_hash() {
    let server = server().await;
    let c = Client::new(&server);
    let file = b"\x89PNG\r\n\x1a\nnot really an image".to_vec();
    let sha: String = Sha256::digest(&file).iter().map(|b| format!("{b:02x}")).collect();
    let meta = format!(r#"{{"filename":"a.png","sha256":"{sha}"}}"#).into_bytes();
    let target = "/v3/merchant/media/upload";
    let (ct, body) = multipart(&meta, &file);

    let auth = c.authorization("POST", target, &meta);
    let ok = c
        .raw("POST", target, &[("Authorization", auth), ("Content-Type", ct.clone())], body.clone())
        .await
        .expect("answer");
    assert_eq!(ok.status, 200, "{}", ok.message());
    common::verify(&c.ids, &ok.headers, &ok.body).expect("verifies");
    assert!(ok.json()["media_id"].as_str().is_some_and(|m| !m.is_empty()));

    // Signing the whole multipart body instead of meta fails.
    let auth = c.authorization("POST", target, &body);
    let bad = c
        .raw("POST", target, &[("Authorization", auth), ("Content-Type", ct.clone())], body.clone())
        .await
        .expect("answer");
    assert_eq!(bad.status, 401);

    // A meta hash that does not match the file.
    let wrong_meta =
        br#"{"filename":"a.png","sha256":"0000000000000000000000000000000000000000000000000000000000000000"}"#;
    let (ct2, body2) = multipart(wrong_meta, &file);
    let auth = c.authorization("POST", target, wrong_meta);
    let a = c.raw("POST", target, &[("Authorization", auth), ("Content-Type", ct2)], body2).await.expect("answer");
    assert_eq!((a.status, a.code().as_str()), (400, "PARAM_ERROR"));
    assert!(a.message().contains("sha256"));

    // Other upload endpoints answer their own field.
    for (path, field) in
        [("/v3/merchant-service/images/upload", "media_id"), ("/v3/marketing/favor/media/image-upload", "media_url")]
    {
        let auth = c.authorization("POST", path, &meta);
        let a = c
            .raw("POST", path, &[("Authorization", auth), ("Content-Type", ct.clone())], body.clone())
            .await
            .expect("answer");
        assert_eq!(a.status, 200, "{path}: {}", a.message());
        assert!(a.json()[field].as_str().is_some(), "{path}");
    }
    // Not multipart at all.
    let a = c.call("POST", target, Some(&json!({"filename":"a.png"}))).await;
    assert_eq!((a.status, a.code().as_str()), (400, "PARAM_ERROR"));
}
