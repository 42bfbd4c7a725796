//! A WeChat Pay callback (notify_url) endpoint with axum, to copy into your service.
//!
//! `cargo run --example notify_axum` runs it against the embedded simulator: it serves the endpoint on 127.0.0.1,
//! creates and pays an order in wechatpay-mock, which POSTs the signed, encrypted `TRANSACTION.SUCCESS` callback
//! to the endpoint, and prints what the endpoint did and answered.
//!
//! What the endpoint does, in order: hand the headers and the exact body bytes to a `NotificationParser` (which
//! verifies the signature over those bytes, checks the time window, refuses probes and replays, and decrypts the
//! resource with the APIv3 key); process the payment; answer success, or a 4xx/5xx that makes WeChat Pay send the
//! callback again later.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde::Deserialize;
use tokio::sync::mpsc;
use wechatpay::{Notification, NotificationAnswer, NotificationError, NotificationParser, ReplayGuard};

/// The part of a `TRANSACTION.SUCCESS` resource this shop uses (the resource has more fields).
#[derive(Debug, Clone, Deserialize)]
pub struct Transaction {
    pub out_trade_no: String,
    pub transaction_id: Option<String>,
    pub trade_state: String,
    pub amount: Amount,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Amount {
    pub total: u64,
}

/// What the handlers share: the parser, and where paid orders go (your order service, a queue, a database).
pub struct App {
    pub parser: NotificationParser,
    pub paid: mpsc::UnboundedSender<Transaction>,
}

/// The routes: mount them in your own Router.
pub fn router(app: Arc<App>) -> Router {
    Router::new().route("/wechatpay/notify", post(notify)).with_state(app)
}

/// `POST /wechatpay/notify`. `body: Bytes` keeps the exact bytes: never parse to JSON and serialise again before
/// verifying, the signature covers the bytes as sent.
async fn notify(State(app): State<Arc<App>>, headers: HeaderMap, body: Bytes) -> Response {
    let notification: Notification<Transaction> = match app.parser.parse(&headers, &body) {
        Ok(notification) => notification,
        Err(refused) => {
            // Not from WeChat Pay, altered, too old, a replay, or a duplicate of one already handled.
            if !matches!(refused, NotificationError::Duplicate { .. }) {
                eprintln!("refused a callback: {refused}");
            }
            return respond(refused.answer());
        }
    };
    match notification.event_type.as_str() {
        "TRANSACTION.SUCCESS" => {
            // Process it idempotently (WeChat Pay may deliver an event more than once), then acknowledge.
            if app.paid.send(notification.resource.clone()).is_err() {
                return respond(NotificationAnswer::fail(503, "the order service is not running"));
            }
        }
        other => eprintln!("ignored a {other} callback"),
    }
    respond(app.parser.acknowledge(&notification))
}

fn respond(answer: NotificationAnswer) -> Response {
    let status = StatusCode::from_u16(answer.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, [(header::CONTENT_TYPE, NotificationAnswer::CONTENT_TYPE)], answer.body().to_owned()).into_response()
}

/// The demo: the endpoint above, served on loopback, receiving a real callback from wechatpay-mock.
#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let server = wechatpay_mock::Server::start().await?;
    let ids = server.identities().clone();
    let instance = wechatpay::Builder::factory(serde_json::json!({
        "mchid": ids.mchid,
        "serial": ids.merchant.serial,
        "privateKey": ids.merchant.private_key_pem,
        "certs": {ids.platform.serial.clone(): ids.platform.certificate_pem},
        "apiv3Key": ids.apiv3_key,
        "base_uri": server.base_uri(),
    }))?;

    let (paid, mut orders) = mpsc::unbounded_channel();
    let parser = instance.notification_parser()?.replay_guard(ReplayGuard::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let notify_url = format!("http://{}/wechatpay/notify", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, router(Arc::new(App { parser, paid }))).await });
    println!("the callback endpoint listens on {notify_url}");

    let out_trade_no = format!("DEMO{}", wechatpay::Formatter::timestamp());
    instance
        .v3()
        .pay()
        .transactions()
        .native()
        .post_async(serde_json::json!({"json": {
            "appid": "wxd678efh567hg6787", "mchid": ids.mchid, "description": "Image形象店-深圳腾大-QQ公仔",
            "out_trade_no": out_trade_no, "notify_url": notify_url, "amount": {"total": 1},
        }}))
        .await?;
    server.pay_order(&out_trade_no)?;
    let callback = server.transaction_notification(&out_trade_no)?;
    let delivered = server.deliver(&callback, &notify_url).await?;
    println!("the endpoint answered {} {}", delivered.status, String::from_utf8_lossy(&delivered.body));
    if let Some(order) = orders.recv().await {
        println!("paid: {} ({} fen, {})", order.out_trade_no, order.amount.total, order.trade_state);
    }
    // The same POST again is a replay, refused.
    let replayed = server.deliver(&callback, &notify_url).await?;
    println!("the same POST again: {} {}", replayed.status, String::from_utf8_lossy(&replayed.body));
    Ok(())
}
