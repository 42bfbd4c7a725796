//! Time-driven state: auto-pay and auto-advance move objects on by the server's own timers and post their
//! callbacks with no further request; a manual clock lets a test decide exactly when.

mod common;

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{Client, Received, ids, listener, open_callback};
use serde_json::{Value, json};
use tokio::sync::mpsc::UnboundedReceiver;
use wechatpay_mock::{Clock, RefundStatus, Server, TradeState, TransferState};

const QQ: &str = "/v3/fund-app/mch-transfer/transfer-to-qq-wallet-bills";

/// Long enough for a loaded CI machine; the tests never wait for it unless something is broken.
const PATIENCE: Duration = Duration::from_secs(20);

fn order(mchid: &str, out_trade_no: &str, notify_url: &str) -> Value {
    json!({
        "appid": "wxd678efh567hg6787", "mchid": mchid, "description": "Image形象店-深圳腾大-QQ公仔",
        "out_trade_no": out_trade_no, "notify_url": notify_url, "amount": { "total": 100, "currency": "CNY" },
    })
}

fn qq_bill(out_bill_no: &str, notify_url: &str) -> Value {
    json!({
        "appid": "102022609", "out_bill_no": out_bill_no, "transfer_scene_id": "1401",
        "transfer_scene_report_infos": [{ "info_type": "活动名称", "info_content": "注册会员有礼" }],
        "openid": "o-MYE42l80oelYMDE34nYD456Xoy", "transfer_amount": 400000, "transfer_remark": "2020年4月报销",
        "notify_url": notify_url,
    })
}

async fn next(rx: &mut UnboundedReceiver<Received>) -> Received {
    tokio::time::timeout(PATIENCE, rx.recv()).await.expect("a callback within the patience").expect("listener")
}

#[tokio::test]
async fn an_auto_paid_order_calls_back_with_no_further_request() {
    let (url, mut rx) = listener(200, r#"{"code":"SUCCESS"}"#).await;
    let server = Server::builder()
        .identities(ids())
        .auto_pay(Some(Duration::from_millis(100)))
        .auto_notify(true)
        .start()
        .await
        .expect("server");
    let c = Client::new(&server);
    let prepay =
        c.call_verified("POST", "/v3/pay/transactions/native", Some(&order(&c.ids.mchid, "TIMED1", &url))).await;
    assert_eq!(prepay.status, 200, "{}", prepay.message());
    let asked = server.requests_served();

    // Nobody asks the server anything more: its timer pays the order and posts the callback.
    let (line, headers, body) = next(&mut rx).await;
    assert!(line.starts_with("POST /notify/wechat"), "{line}");
    let names: Vec<&str> = headers.iter().map(|(k, _)| k.as_str()).collect();
    assert!(
        names.contains(&"Wechatpay-Signature") && names.contains(&"Wechatpay-Serial"),
        "as WeChat writes them: {names:?}"
    );
    let (event, resource) = open_callback(&c.ids, &headers, &body);
    assert_eq!(event, "TRANSACTION.SUCCESS");
    assert_eq!(resource["out_trade_no"], "TIMED1");
    assert_eq!(resource["trade_state"], "SUCCESS");
    assert!(resource["transaction_id"].as_str().is_some_and(|id| id.starts_with("4200")), "{resource}");
    assert_eq!(server.requests_served(), asked, "the callback came with no further request");

    let records = server.wait_for_deliveries(1, PATIENCE).await.expect("recorded");
    assert_eq!((records[0].event_type.as_str(), &records[0].result), ("TRANSACTION.SUCCESS", &Ok(200)));
    assert_eq!(server.trade_state("TIMED1"), Some(TradeState::Success));
}

#[tokio::test]
async fn a_manual_clock_decides_when_orders_pay_and_transfers_and_refunds_end() {
    let (url, mut rx) = listener(204, "").await;
    let server = Server::builder()
        .identities(ids())
        .clock(Clock::manual())
        .auto_pay(Some(Duration::from_secs(5)))
        .auto_advance(Some(Duration::from_secs(60)))
        .auto_notify(true)
        .start()
        .await
        .expect("server");
    let c = Client::new(&server);
    let query = format!("/v3/pay/transactions/out-trade-no/M1?mchid={}", c.ids.mchid);
    c.call_verified(
        "POST",
        "/v3/pay/transactions/jsapi",
        Some(&{
            let mut o = order(&c.ids.mchid, "M1", &url);
            o["payer"] = json!({ "openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o" });
            o
        }),
    )
    .await;

    // Not yet due: nothing moves, however long the test takes.
    server.advance_time(Duration::from_secs(4));
    assert_eq!(c.call_verified("GET", &query, None).await.json()["trade_state"], "NOTPAY");
    assert!(server.deliveries().is_empty());
    // Due: paid before advance_time returns, the callback on its way.
    server.advance_time(Duration::from_secs(1));
    assert_eq!(server.trade_state("M1"), Some(TradeState::Success));
    let (_, headers, body) = next(&mut rx).await;
    assert_eq!(open_callback(&c.ids, &headers, &body).0, "TRANSACTION.SUCCESS");
    let paid = c.call_verified("GET", &query, None).await.json();
    assert_eq!(paid["trade_state"], "SUCCESS");

    // A refund with a notify_url ends one step later.
    let refund = json!({
        "out_trade_no": "M1", "out_refund_no": "MR1", "notify_url": url,
        "amount": { "refund": 40, "total": 100, "currency": "CNY" },
    });
    assert_eq!(
        c.call_verified("POST", "/v3/refund/domestic/refunds", Some(&refund)).await.json()["status"],
        "PROCESSING"
    );
    server.advance_time(Duration::from_secs(59));
    assert_eq!(server.refund_status("MR1"), Some(RefundStatus::Processing));
    server.advance_time(Duration::from_secs(1));
    let (_, headers, body) = next(&mut rx).await;
    let (event, resource) = open_callback(&c.ids, &headers, &body);
    assert_eq!((event.as_str(), resource["out_refund_no"].as_str()), ("REFUND.SUCCESS", Some("MR1")));
    assert_eq!(resource["refund_status"], "SUCCESS");

    // A QQ-wallet transfer walks its four steps, one per minute, and calls back at SUCCESS only.
    c.call_verified("POST", QQ, Some(&qq_bill("MT1", &url))).await;
    let states: Vec<_> = (0..4)
        .map(|_| {
            server.advance_time(Duration::from_secs(60));
            server.transfer_state("MT1")
        })
        .collect();
    assert_eq!(
        states,
        [
            Some(TransferState::Processing),
            Some(TransferState::WaitUserConfirm),
            Some(TransferState::Transfering),
            Some(TransferState::Success)
        ]
    );
    let (_, headers, body) = next(&mut rx).await;
    let (event, resource) = open_callback(&c.ids, &headers, &body);
    assert_eq!((event.as_str(), resource["state"].as_str()), ("MCHTRANSFER.BILL.FINISHED", Some("SUCCESS")));
    // Its times are the manual clock's: updated four minutes after it was made.
    let q = c.call_verified("GET", &format!("{QQ}/MT1"), None).await.json();
    assert_ne!(q["create_time"], q["update_time"], "{q}");

    let records = server.wait_for_deliveries(3, PATIENCE).await.expect("three callbacks");
    let types: Vec<_> = records.iter().map(|r| r.event_type.as_str()).collect();
    assert_eq!(types.len(), 3);
    for expected in ["TRANSACTION.SUCCESS", "REFUND.SUCCESS", "MCHTRANSFER.BILL.FINISHED"] {
        assert!(types.contains(&expected), "{types:?}");
    }
    assert!(records.iter().all(|r| r.result == Ok(204)), "{records:?}");
    assert!(rx.try_recv().is_err(), "no callback for the steps in between");
}

#[tokio::test]
async fn advancing_a_shared_clock_wakes_the_server_timers() {
    // The clock can be advanced without the server: its timer sees the clock move and pays.
    let (url, mut rx) = listener(200, "").await;
    let clock = Clock::manual();
    let server = Server::builder()
        .identities(ids())
        .clock(clock.clone())
        .auto_pay(Some(Duration::from_secs(30)))
        .auto_notify(true)
        .start()
        .await
        .expect("server");
    let c = Client::new(&server);
    c.call_verified("POST", "/v3/pay/transactions/native", Some(&order(&c.ids.mchid, "SHARED1", &url))).await;
    clock.advance(Duration::from_secs(30));
    let (_, headers, body) = next(&mut rx).await;
    let (event, resource) = open_callback(&c.ids, &headers, &body);
    assert_eq!((event.as_str(), resource["out_trade_no"].as_str()), ("TRANSACTION.SUCCESS", Some("SHARED1")));
    assert_eq!(server.clock().elapsed(), Duration::from_secs(30));
}

#[tokio::test]
async fn waiting_for_callbacks_that_never_come_is_a_clear_error() {
    let server = Server::builder().identities(ids()).clock(Clock::manual()).start().await.expect("server");
    let err = server.wait_for_deliveries(1, Duration::from_millis(50)).await.unwrap_err();
    assert!(err.to_string().contains("0 of the 1"), "{err}");
    // Without timers, advancing the clock moves nothing.
    let c = Client::new(&server);
    c.call_verified("POST", "/v3/pay/transactions/native", Some(&order(&c.ids.mchid, "STILL1", "http://127.0.0.1:1/")))
        .await;
    server.advance_time(Duration::from_secs(86_400));
    assert_eq!(server.trade_state("STILL1"), Some(TradeState::NotPay));
}

/// The binary as a child process, stopped however the test ends.
struct Running(std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-TERM", &self.0.id().to_string()]).status();
        let _ = self.0.wait();
    }
}

#[test]
fn the_binary_pays_and_calls_back_on_its_own() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let (url, mut rx) = runtime.block_on(listener(200, r#"{"code":"SUCCESS"}"#));
    let dir = std::env::temp_dir().join(format!("wechatpay-mock-timers-{}", std::process::id()));
    let mut child = Running(
        Command::new(env!("CARGO_BIN_EXE_wechatpay-mock"))
            .args(["--auto-pay", "150", "--auto-advance", "150", "--auto-notify", "--state-dir"])
            .arg(&dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("binary starts"),
    );
    let mut line = String::new();
    BufReader::new(child.0.stdout.take().expect("stdout")).read_line(&mut line).expect("ready line");
    let ready: Value = serde_json::from_str(&line).expect("one JSON line");
    let ids = wechatpay_mock::Identities::load(&dir).expect("the state directory holds the identities");
    let c = Client {
        http: reqwest::Client::new(),
        base: ready["base_uri"].as_str().unwrap_or_default().trim_end_matches('/').to_owned(),
        ids,
    };
    let outcome = runtime.block_on(async {
        let prepay = c.call("POST", "/v3/pay/transactions/native", Some(&order(&c.ids.mchid, "BIN1", &url))).await;
        assert_eq!(prepay.status, 200, "{}", prepay.message());
        c.call("POST", QQ, Some(&qq_bill("BINT1", &url))).await;
        let first = next(&mut rx).await;
        let second = next(&mut rx).await;
        (first, second)
    });
    drop(child);
    let _ = std::fs::remove_dir_all(&dir);
    let mut events: Vec<String> =
        [outcome.0, outcome.1].iter().map(|(_, headers, body)| open_callback(&c.ids, headers, body).0).collect();
    events.sort();
    assert_eq!(events, ["MCHTRANSFER.BILL.FINISHED", "TRANSACTION.SUCCESS"]);
}
