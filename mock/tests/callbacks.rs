//! Callbacks: built signed and encrypted, handed to the test, and POSTed to a loopback listener.

mod common;

use std::time::Duration;

use common::{Client, ids, listener, open_callback, server, verify};
use serde_json::{Value, json};
use wechatpay_mock::{Fault, Notification, RefundStatus, Server, TransferState};

fn order(mchid: &str, out_trade_no: &str, notify_url: &str) -> Value {
    json!({
        "appid": "wxd678efh567hg6787", "mchid": mchid, "description": "d", "out_trade_no": out_trade_no,
        "notify_url": notify_url, "amount": { "total": 100 }, "payer": { "openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o" },
    })
}

#[tokio::test]
async fn transaction_callbacks_are_handed_over_and_delivered() {
    let server = server().await;
    let c = Client::new(&server);
    c.call_verified(
        "POST",
        "/v3/pay/transactions/jsapi",
        Some(&order(&c.ids.mchid, "N1", "https://example.invalid/n")),
    )
    .await;
    let transaction_id = server.pay_order("N1").expect("payable");

    let n: Notification = server.transaction_notification("N1").expect("notification");
    assert_eq!(n.event_type, "TRANSACTION.SUCCESS");
    let (event, resource) = open_callback(&c.ids, &n.headers, &n.body);
    assert_eq!(event, "TRANSACTION.SUCCESS");
    assert_eq!(resource["transaction_id"], json!(transaction_id));
    assert_eq!(resource["trade_state"], "SUCCESS");
    assert_eq!(resource, n.resource);

    let (url, mut rx) = listener(204, "").await;
    let delivered = server.deliver(&n, &url).await.expect("delivered");
    assert_eq!(delivered.status, 204);
    assert!(delivered.acknowledged());
    let (line, headers, body) = rx.recv().await.expect("received");
    assert_eq!(line, "POST /notify/wechat?x=1 HTTP/1.1");
    assert_eq!(body, n.body, "the exact bytes that were signed");
    let (event, _) = open_callback(&c.ids, &headers, &body);
    assert_eq!(event, "TRANSACTION.SUCCESS");

    // A merchant answering FAIL is reported as not acknowledged.
    let (url, _rx) = listener(500, r#"{"code":"FAIL","message":"busy"}"#).await;
    let delivered = server.deliver(&n, &url).await.expect("delivered");
    assert_eq!(delivered.status, 500);
    assert!(!delivered.acknowledged());
    // Nobody listening.
    assert!(server.deliver(&n, "http://127.0.0.1:1/").await.is_err());
    assert!(server.deliver(&n, "https://example.invalid/").await.is_err());
    assert!(server.transaction_notification("unknown").is_err());
}

#[tokio::test]
async fn refund_and_transfer_callbacks_and_resigned_faulty_ones() {
    let server = server().await;
    let c = Client::new(&server);
    c.call_verified(
        "POST",
        "/v3/pay/transactions/native",
        Some(&order(&c.ids.mchid, "N2", "https://example.invalid/n")),
    )
    .await;
    server.pay_order("N2").expect("payable");
    let refund = json!({ "out_trade_no": "N2", "out_refund_no": "NR2", "amount": { "refund": 100, "total": 100, "currency": "CNY" } });
    c.call_verified("POST", "/v3/refund/domestic/refunds", Some(&refund)).await;
    server.set_refund_status("NR2", RefundStatus::Success).expect("refund");
    let n = server.refund_notification("NR2").expect("notification");
    let (event, resource) = open_callback(&c.ids, &n.headers, &n.body);
    assert_eq!(event, "REFUND.SUCCESS");
    assert_eq!(resource["refund_status"], "SUCCESS");
    assert_eq!(resource["out_refund_no"], "NR2");

    let bill = json!({
        "appid": "102022609", "out_bill_no": "NT1", "transfer_scene_id": "1401",
        "transfer_scene_report_infos": [{ "info_type": "a", "info_content": "b" }],
        "openid": "o-x", "transfer_amount": 100, "transfer_remark": "r",
    });
    c.call_verified("POST", "/v3/fund-app/mch-transfer/transfer-to-qq-wallet-bills", Some(&bill)).await;
    server.set_transfer_state("NT1", TransferState::Success).expect("bill");
    let n = server.transfer_notification("NT1").expect("notification");
    let (event, resource) = open_callback(&c.ids, &n.headers, &n.body);
    assert_eq!(event, "MCHTRANSFER.BILL.FINISHED");
    assert_eq!(resource["state"], "SUCCESS");

    // Any callback, and the same callback with header faults.
    let custom = server
        .notification("PROFITSHARING.SUCCESS", "分账成功", "profitsharing", &json!({ "order_id": "1" }))
        .expect("notification");
    let (event, resource) = open_callback(&c.ids, &custom.headers, &custom.body);
    assert_eq!((event.as_str(), resource["order_id"].as_str()), ("PROFITSHARING.SUCCESS", Some("1")));
    let tampered = server.resign_notification(&custom, Some(Fault::TamperedSignature)).expect("resigned");
    assert_eq!(tampered.body, custom.body);
    assert_eq!(verify(&c.ids, &tampered.headers, &tampered.body), Err("bad signature".into()));
    let probe = server.resign_notification(&custom, Some(Fault::SignTestProbe)).expect("resigned");
    assert!(probe.header("Wechatpay-Signature").is_some_and(|s| s.starts_with("WECHATPAY/SIGNTEST/")));
    let clean = server.resign_notification(&tampered, None).expect("resigned");
    verify(&c.ids, &clean.headers, &clean.body).expect("clean again");
}

#[tokio::test]
async fn auto_notify_posts_to_http_notify_urls() {
    let (url, mut rx) = listener(200, r#"{"code":"SUCCESS"}"#).await;
    let server = Server::builder().identities(ids()).auto_notify(true).start().await.expect("server");
    let c = Client::new(&server);
    c.call_verified("POST", "/v3/pay/transactions/native", Some(&order(&c.ids.mchid, "A1", &url))).await;
    server.pay_order("A1").expect("payable");
    let (_, headers, body) =
        tokio::time::timeout(Duration::from_secs(10), rx.recv()).await.expect("in time").expect("received");
    let (event, resource) = open_callback(&c.ids, &headers, &body);
    assert_eq!((event.as_str(), resource["out_trade_no"].as_str()), ("TRANSACTION.SUCCESS", Some("A1")));
    // The outcome is recorded once the exchange is over.
    let mut records = server.deliveries();
    for _ in 0..100 {
        if !records.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        records = server.deliveries();
    }
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].result, Ok(200));
    assert_eq!(records[0].url, url);
}

#[test]
fn delivery_works_from_blocking_code() {
    let server = Server::builder().identities(ids()).start_blocking().expect("server");
    let n = server.notification("TEST.EVENT", "test", "test", &json!({ "a": 1 })).expect("notification");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let (url, mut rx) = runtime.block_on(listener(204, ""));
    let delivered = server.deliver_blocking(&n, &url).expect("delivered");
    assert_eq!(delivered.status, 204);
    let (_, _, body) = runtime.block_on(rx.recv()).expect("received");
    assert_eq!(body, n.body);
}

#[tokio::test]
async fn transfers_that_finish_on_their_own_notify_their_url() {
    let (url, mut rx) = listener(204, "").await;
    let server = Server::builder()
        .identities(ids())
        .auto_advance(Some(Duration::ZERO))
        .auto_notify(true)
        .start()
        .await
        .expect("server");
    let c = Client::new(&server);
    let bill = json!({
        "appid": "102022609", "out_bill_no": "AUTO1", "transfer_scene_id": "1401",
        "transfer_scene_report_infos": [{ "info_type": "a", "info_content": "b" }],
        "openid": "o-x", "transfer_amount": 100, "transfer_remark": "r", "notify_url": url,
    });
    c.call_verified("POST", "/v3/fund-app/mch-transfer/transfer-to-qq-wallet-bills", Some(&bill)).await;
    // The next look at the bill finds it SUCCESS (zero step) and sends the callback.
    assert_eq!(server.transfer_state("AUTO1"), Some(TransferState::Success));
    let (_, headers, body) =
        tokio::time::timeout(Duration::from_secs(10), rx.recv()).await.expect("in time").expect("received");
    let (event, resource) = open_callback(&c.ids, &headers, &body);
    assert_eq!(event, "MCHTRANSFER.BILL.FINISHED");
    assert_eq!((resource["out_bill_no"].as_str(), resource["state"].as_str()), (Some("AUTO1"), Some("SUCCESS")));
}

#[tokio::test]
async fn auto_pay_plays_the_payer_for_http_only_clients() {
    // The binary's `--auto-pay`: without it a client that only speaks HTTP could never see an order paid,
    // so it could never refund one or receive TRANSACTION.SUCCESS.
    let (url, mut rx) = listener(200, r#"{"code":"SUCCESS"}"#).await;
    let server = Server::builder()
        .identities(ids())
        .auto_pay(Some(Duration::ZERO))
        .auto_notify(true)
        .start()
        .await
        .expect("server");
    let c = Client::new(&server);
    c.call_verified("POST", "/v3/pay/transactions/native", Some(&order(&c.ids.mchid, "PAY1", &url))).await;
    let q =
        c.call_verified("GET", &format!("/v3/pay/transactions/out-trade-no/PAY1?mchid={}", c.ids.mchid), None).await;
    assert_eq!(q.json()["trade_state"], "SUCCESS", "{}", q.json());
    let transaction_id = q.json()["transaction_id"].as_str().unwrap_or_default().to_owned();
    assert!(transaction_id.starts_with("4200"), "{transaction_id}");

    let (_, headers, body) =
        tokio::time::timeout(Duration::from_secs(10), rx.recv()).await.expect("in time").expect("received");
    let (event, resource) = open_callback(&c.ids, &headers, &body);
    assert_eq!(event, "TRANSACTION.SUCCESS");
    assert_eq!(resource["transaction_id"].as_str(), Some(transaction_id.as_str()));

    // The paid order refunds over HTTP alone.
    let refund = json!({
        "out_trade_no": "PAY1", "out_refund_no": "PAYR1",
        "amount": { "refund": 1, "total": 100, "currency": "CNY" },
    });
    let r = c.call_verified("POST", "/v3/refund/domestic/refunds", Some(&refund)).await;
    assert_eq!(r.status, 200, "{}", r.message());
    assert_eq!(r.json()["status"], "PROCESSING");

    // With a delay the order stays NOTPAY until it has passed; a closed order is never paid.
    let slow =
        Server::builder().identities(ids()).auto_pay(Some(Duration::from_secs(3600))).start().await.expect("server");
    let c = Client::new(&slow);
    c.call_verified("POST", "/v3/pay/transactions/native", Some(&order(&c.ids.mchid, "PAY2", &url))).await;
    let q =
        c.call_verified("GET", &format!("/v3/pay/transactions/out-trade-no/PAY2?mchid={}", c.ids.mchid), None).await;
    assert_eq!(q.json()["trade_state"], "NOTPAY");
    let closed = c
        .call_verified("POST", "/v3/pay/transactions/out-trade-no/PAY2/close", Some(&json!({ "mchid": c.ids.mchid })))
        .await;
    assert_eq!(closed.status, 204);
    assert_eq!(slow.trade_state("PAY2"), Some(wechatpay_mock::TradeState::Closed));
}
