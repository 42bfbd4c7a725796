//! Every fault mode, per route and for the next N requests.

mod common;

use std::time::{Duration, Instant};

use common::{Client, now, server, verify};
use serde_json::json;
use wechatpay_mock::{Fault, SignatureHeader};

const CERTS: &str = "/v3/certificates";
const QQ: &str = "/v3/fund-app/mch-transfer/transfer-to-qq-wallet-bills";

fn qq_body(out_bill_no: &str) -> serde_json::Value {
    json!({
        "appid": "102022609", "out_bill_no": out_bill_no, "transfer_scene_id": "1401",
        "transfer_scene_report_infos": [{ "info_type": "活动名称", "info_content": "注册会员有礼" }],
        "openid": "o-MYE42l80oelYMDE34nYD456Xoy", "transfer_amount": 100, "transfer_remark": "r",
    })
}

#[tokio::test]
async fn header_faults_break_exactly_what_they_say() {
    let server = server().await;
    let c = Client::new(&server);
    let ids = &c.ids;

    server.faults().next(Fault::TamperedSignature);
    let a = c.call("GET", CERTS, None).await;
    assert_eq!(a.status, 200, "the answer itself is normal");
    assert_eq!(verify(ids, &a.headers, &a.body), Err("bad signature".into()));

    server.faults().next(Fault::UnknownSerial);
    let a = c.call("GET", CERTS, None).await;
    let serial = a.header("Wechatpay-Serial").unwrap_or_default().to_owned();
    assert!(serial != ids.platform.serial && serial != ids.public_key.id && serial.len() == 40);
    assert_eq!(verify(ids, &a.headers, &a.body), Err(format!("unknown serial {serial}")));

    server.faults().next(Fault::StaleTimestamp);
    let a = c.call("GET", CERTS, None).await;
    let ts: i64 = a.header("Wechatpay-Timestamp").and_then(|t| t.parse().ok()).unwrap_or_default();
    assert!(now() - ts > 300, "timestamp {ts} is stale");
    assert_eq!(verify(ids, &a.headers, &a.body), Err("stale timestamp".into()));

    for which in
        [SignatureHeader::Timestamp, SignatureHeader::Nonce, SignatureHeader::Signature, SignatureHeader::Serial]
    {
        server.faults().next(Fault::MissingHeader(which));
        let a = c.call("GET", CERTS, None).await;
        assert!(a.header(which.name()).is_none(), "{which:?}");
        assert_eq!(verify(ids, &a.headers, &a.body), Err(format!("missing {}", which.name())));
        let others =
            [SignatureHeader::Timestamp, SignatureHeader::Nonce, SignatureHeader::Signature, SignatureHeader::Serial];
        assert!(others.iter().filter(|h| **h != which).all(|h| a.header(h.name()).is_some()));
    }

    server.faults().next(Fault::MissingSignatureHeaders);
    let a = c.call("GET", CERTS, None).await;
    assert!(a.headers.iter().all(|(k, _)| !k.to_ascii_lowercase().starts_with("wechatpay-")));
    assert!(a.header("Request-ID").is_some());

    server.faults().next(Fault::SignTestProbe);
    let a = c.call("GET", CERTS, None).await;
    assert!(a.header("Wechatpay-Signature").is_some_and(|s| s.starts_with("WECHATPAY/SIGNTEST/")));
    assert_eq!(verify(ids, &a.headers, &a.body), Err("probe signature".into()));

    // Faults are used up: the next answer is clean.
    assert_eq!(server.faults().queued(), 0);
    c.call_verified("GET", CERTS, None).await;
}

#[tokio::test]
async fn server_errors_are_signed_and_change_nothing() {
    let server = server().await;
    let c = Client::new(&server);
    server.faults().next(Fault::Status(503));
    let body = serde_json::to_vec(&qq_body("f1")).unwrap_or_default();
    let auth = c.authorization("POST", QQ, &body);
    let headers = [("Authorization", auth), ("Content-Type", "application/json".to_owned())];
    let a = c.raw("POST", QQ, &headers, body.clone()).await.expect("answer");
    assert_eq!((a.status, a.code().as_str()), (503, "SYSTEM_ERROR"));
    verify(&c.ids, &a.headers, &a.body).expect("5xx answers are signed");
    assert_eq!(server.transfer_state("f1"), None, "not processed");
    // The same signed request (same nonce) can be retried: a 5xx did not use the nonce up.
    let retry = c.raw("POST", QQ, &headers, body).await.expect("answer");
    assert_eq!(retry.status, 200, "{}", retry.message());
}

#[tokio::test]
async fn dropped_connections_with_and_without_processing() {
    let server = server().await;
    let c = Client::new(&server);
    let send = |out: &'static str| {
        let body = serde_json::to_vec(&qq_body(out)).unwrap_or_default();
        let auth = c.authorization("POST", QQ, &body);
        c.http
            .post(format!("{}{QQ}", c.base))
            .header("Authorization", auth)
            .header("Content-Type", "application/json")
            .body(body)
            .send()
    };
    server.faults().next(Fault::DropConnection);
    assert!(send("d1").await.is_err(), "no answer");
    assert_eq!(server.transfer_state("d1"), None, "not processed");

    server.faults().next(Fault::DropAfterProcessing);
    assert!(send("d2").await.is_err(), "no answer");
    assert!(server.transfer_state("d2").is_some(), "processed although unanswered");
    // The client's retry finds the bill (idempotent create).
    let retry = c.call_verified("POST", QQ, Some(&qq_body("d2"))).await;
    assert_eq!(retry.status, 200);
}

#[tokio::test]
async fn truncated_bodies_fail_while_reading() {
    let server = server().await;
    let c = Client::new(&server);
    server.faults().next(Fault::TruncatedBody);
    let auth = c.authorization("GET", CERTS, b"");
    let resp =
        c.http.get(format!("{}{CERTS}", c.base)).header("Authorization", auth).send().await.expect("headers arrive");
    assert_eq!(resp.status().as_u16(), 200);
    let announced = resp.content_length().unwrap_or_default();
    assert!(announced > 0);
    assert!(resp.bytes().await.is_err(), "the body ends short of Content-Length");
}

#[tokio::test]
async fn delays_hold_the_answer_back() {
    let server = server().await;
    let c = Client::new(&server);
    server.faults().next(Fault::Delay(Duration::from_millis(300)));
    let started = Instant::now();
    let a = c.call_verified("GET", CERTS, None).await;
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(a.status, 200);
    // A client timeout shorter than the delay gives up.
    server.faults().next(Fault::Delay(Duration::from_secs(30)));
    let auth = c.authorization("GET", CERTS, b"");
    let r = c
        .http
        .get(format!("{}{CERTS}", c.base))
        .header("Authorization", auth)
        .timeout(Duration::from_millis(200))
        .send()
        .await;
    assert!(r.is_err_and(|e| e.is_timeout()));
}

#[tokio::test]
async fn route_rules_and_counts() {
    let server = server().await;
    let c = Client::new(&server);
    let faults = server.faults();
    faults.next_n(2, Fault::Status(500));
    assert_eq!(faults.queued(), 2);
    assert_eq!(c.call("GET", CERTS, None).await.status, 500);
    assert_eq!(c.call("GET", "/v3/nowhere", None).await.status, 500);
    assert_eq!(c.call("GET", CERTS, None).await.status, 200);

    faults.on_route("GET", "/v3/fund-app/mch-transfer/transfer-to-qq-wallet-bills/{out_bill_no}", Fault::Status(502));
    assert_eq!(c.call("GET", CERTS, None).await.status, 200, "other routes are untouched");
    assert_eq!(c.call("GET", &format!("{QQ}/a"), None).await.status, 502);
    assert_eq!(c.call("GET", &format!("{QQ}/b?x=1"), None).await.status, 502, "query ignored");
    assert_eq!(c.call("POST", &format!("{QQ}/b/cancel"), None).await.status, 404, "other paths untouched");
    faults.clear();
    assert_eq!(c.call("GET", &format!("{QQ}/a"), None).await.status, 404);

    faults.on_route_n("*", CERTS, 1, Fault::SignTestProbe);
    faults.next(Fault::Status(503));
    let a = c.call("GET", CERTS, None).await;
    assert!(a.header("Wechatpay-Signature").is_some_and(|s| s.starts_with("WECHATPAY/SIGNTEST/")), "route rules first");
    assert_eq!(c.call("GET", CERTS, None).await.status, 503, "then the queue");
    c.call_verified("GET", CERTS, None).await;
    assert!(server.requests_served() >= 11);
}
