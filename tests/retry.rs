//! Opt-in retries against wechatpay-mock: what is retried and what never is, fresh signatures, failover.

mod common;

use std::time::Duration;

use serde_json::json;
use wechatpay::{Builder, Error, Retry};
use wechatpay_mock::{Fault, Server};

/// Fast waits, so that the tests do not sleep.
fn quick() -> Retry {
    Retry::default().backoff(Duration::from_millis(1), Duration::from_millis(5))
}

fn client(server: &Server, retry: Retry) -> Builder {
    Builder::factory(common::config(server).retry(retry)).expect("factory")
}

/// The requests the simulator received for `target` (path and query).
fn received(server: &Server, method: &str, target: &str) -> Vec<wechatpay_mock::RawRequest> {
    server
        .received_requests()
        .into_iter()
        .filter(|request| request.method == method && request.target == target)
        .collect()
}

#[test]
fn rate_limited_requests_are_retried_each_signed_afresh() {
    let server = common::mock();
    let instance = client(&server, quick());
    server.faults().next_n(2, Fault::Status(429));
    let no = common::bill_no("RETRY429");
    let created = instance
        .v3()
        .fund_app()
        .mch_transfer()
        .transfer_to_qq_wallet_bills()
        .post(json!({"json": common::transfer_request(&no)}))
        .expect("created on the third attempt");
    assert_eq!(created.status(), 200);
    let attempts = received(&server, "POST", "/v3/fund-app/mch-transfer/transfer-to-qq-wallet-bills");
    assert_eq!(attempts.len(), 3);
    let authorizations: std::collections::HashSet<String> = attempts
        .iter()
        .map(|request| request.headers.iter().find(|(name, _)| name == "authorization").unwrap().1.clone())
        .collect();
    assert_eq!(authorizations.len(), 3, "each attempt has its own nonce and signature");
    assert!(attempts.iter().all(|request| request.body == attempts[0].body), "the same body each time");
}

#[test]
fn without_a_retry_policy_nothing_is_retried() {
    let server = common::mock();
    let instance = common::client(&server);
    server.faults().next(Fault::Status(429));
    let err = instance.v3().certificates().get(()).unwrap_err();
    assert!(matches!(err, Error::Api { status: 429, .. }), "{err:?}");
    assert_eq!(received(&server, "GET", "/v3/certificates").len(), 1);
}

/// The default never retries a request that may have been processed: a write answered 5xx / SYSTEM_ERROR, or
/// cut after WeChat Pay processed it.
#[test]
fn writes_that_may_have_been_processed_are_not_retried_by_default() {
    let server = common::mock();
    let instance = client(&server, quick());
    let transfers = instance.v3().fund_app().mch_transfer().transfer_to_qq_wallet_bills();
    server.faults().next_n(2, Fault::Status(500));
    let err = transfers.post(json!({"json": common::transfer_request(&common::bill_no("RETRY500"))})).unwrap_err();
    assert!(matches!(err, Error::Api { status: 500, ref code, .. } if code == "SYSTEM_ERROR"), "{err:?}");
    server.faults().clear();
    server.faults().next(Fault::DropAfterProcessing);
    let err = transfers.post(json!({"json": common::transfer_request(&common::bill_no("RETRYDROP"))})).unwrap_err();
    assert!(matches!(err, Error::Transport { .. }), "{err:?}");
    assert_eq!(received(&server, "POST", "/v3/fund-app/mch-transfer/transfer-to-qq-wallet-bills").len(), 2);
    // A read may be retried after the same failures.
    server.faults().next_n(2, Fault::Status(503));
    assert_eq!(instance.v3().certificates().get(()).unwrap().status(), 200);
    server.faults().next(Fault::DropAfterProcessing);
    assert_eq!(instance.v3().certificates().get(()).unwrap().status(), 200);
}

#[test]
fn writes_are_retried_after_server_errors_when_declared_idempotent() {
    let server = common::mock();
    let instance = client(&server, quick().retry_writes(true));
    server.faults().next_n(2, Fault::Status(500));
    let no = common::bill_no("RETRYW");
    let transfers = instance.v3().fund_app().mch_transfer().transfer_to_qq_wallet_bills();
    assert_eq!(transfers.post(json!({"json": common::transfer_request(&no)})).unwrap().status(), 200);
    // The same out_bill_no, cut after it was processed: the retry finds it created (an answer, not a duplicate).
    let no = common::bill_no("RETRYWD");
    server.faults().next(Fault::DropAfterProcessing);
    let before = received(&server, "POST", "/v3/fund-app/mch-transfer/transfer-to-qq-wallet-bills").len();
    let answer = transfers.post(json!({"json": common::transfer_request(&no)}));
    assert!(!matches!(answer, Err(Error::Transport { .. })), "retried: {answer:?}");
    assert_eq!(received(&server, "POST", "/v3/fund-app/mch-transfer/transfer-to-qq-wallet-bills").len(), before + 2);
    let bill = instance["v3/fund-app/mch-transfer/transfer-to-qq-wallet-bills/{out_bill_no}"]
        .get(json!({"out_bill_no": no}))
        .expect("one transfer exists");
    assert_eq!(bill.json::<serde_json::Value>().unwrap()["out_bill_no"], no.as_str());
}

#[test]
fn attempts_are_bounded_and_the_last_error_is_returned() {
    let server = common::mock();
    let instance = client(&server, quick().attempts(2));
    server.faults().next_n(5, Fault::Status(429));
    let err = instance.v3().certificates().get(()).unwrap_err();
    assert!(matches!(err, Error::Api { status: 429, .. }), "{err:?}");
    assert_eq!(received(&server, "GET", "/v3/certificates").len(), 2);
    // Client errors are never retried.
    server.faults().clear();
    let err = instance["v3/fund-app/mch-transfer/transfer-to-qq-wallet-bills/{out_bill_no}"]
        .get(json!({"out_bill_no": "NO-SUCH-BILL"}))
        .unwrap_err();
    assert!(matches!(err, Error::Api { status: 404, .. }), "{err:?}");
    assert_eq!(received(&server, "GET", "/v3/fund-app/mch-transfer/transfer-to-qq-wallet-bills/NO-SUCH-BILL").len(), 1);
}

/// A host that cannot be reached: the request was not sent, so even a write is retried, on the backup host.
#[test]
fn unreachable_hosts_fail_over_to_the_backup() {
    let server = common::mock();
    // A port nothing listens on (bound, then released).
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let failover = server.base_uri().to_owned();
    let config = common::config(&server).base_uri(format!("http://{dead}/")).retry(quick().failover_to(failover));
    let instance = Builder::factory(config).unwrap();
    let no = common::bill_no("FAILOVER");
    let created = instance
        .v3()
        .fund_app()
        .mch_transfer()
        .transfer_to_qq_wallet_bills()
        .post(json!({"json": common::transfer_request(&no)}))
        .expect("created on the backup host");
    assert!(created.url().unwrap().starts_with(server.base_uri()), "{:?}", created.url());
    assert_eq!(received(&server, "POST", "/v3/fund-app/mch-transfer/transfer-to-qq-wallet-bills").len(), 1);

    // Without failover, the retries go to the same dead host and the connection error comes back.
    let config = common::config(&server).base_uri(format!("http://{dead}/")).retry(quick());
    let err = Builder::factory(config).unwrap().v3().certificates().get(()).unwrap_err();
    assert!(err.to_string().contains("not sent"), "{err}");
}

#[test]
fn the_php_shape_configures_retries_and_refuses_nonsense() {
    let server = common::mock();
    let mut config = common::php_config(&server);
    config["retry"] = json!({"attempts": 3, "initialBackoff": 0.001, "maxBackoff": 0.01, "failover": true,
        "retryWrites": false});
    let instance = Builder::factory(&config).unwrap();
    let retry = instance.config().retry().cloned().expect("configured");
    assert_eq!(retry, quick().backoff(Duration::from_millis(1), Duration::from_millis(10)).failover());
    server.faults().next(Fault::Status(429));
    assert_eq!(instance.v3().certificates().get(()).unwrap().status(), 200);

    for (retry, field) in [
        (json!({"attempts": 0}), "retry.attempts"),
        (json!({"attempts": -1}), "retry.attempts"),
        (json!({"failover": "http://api2.mch.weixin.qq.com/"}), "retry.failover"),
        (json!({"failover": "https://api2.mch.weixin.qq.com/v3/"}), "retry.failover"),
        (json!({"backoff": 1}), "retry.backoff"),
        (json!("yes"), "retry"),
    ] {
        config["retry"] = retry;
        let err = Builder::factory(&config).unwrap_err();
        assert!(matches!(err, Error::Config { field: ref f, .. } if f == field), "{field}: {err:?}");
    }
}

#[test]
fn apiv2_requests_for_a_host_of_their_own_never_fail_over() {
    let server = common::mock();
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let config = common::v2_config(&server).retry(quick().failover_to(server.base_uri().to_owned()));
    let instance = Builder::factory(config).expect("factory");
    let mchid = server.identities().mchid.clone();
    let before = server.received_requests().len();
    let err = instance
        .v2()
        .pay()
        .orderquery()
        .post(json!({
            "base_uri": format!("http://{dead}/"),
            "xml": {"appid": "wxd930ea5d5a258f4f", "mch_id": mchid, "out_trade_no": "NOFAILOVER1"},
        }))
        .unwrap_err();
    assert!(matches!(err, Error::Transport { .. }), "{err:?}");
    assert_eq!(server.received_requests().len(), before, "a request for another host went to the failover host");
}

#[test]
fn downloads_are_retried_before_their_body_is_read() {
    let server = common::mock();
    let instance = client(&server, quick());
    server.faults().next(Fault::Status(503));
    let mut image = Vec::new();
    let downloaded = instance
        .v3()
        .merchant_service()
        .images()
        ._media_id_()
        .download(json!({"media_id": "RETRIED.png"}), &mut image)
        .expect("the second attempt");
    assert_eq!(downloaded.bytes(), image.len() as u64);
    assert!(!image.is_empty());
    assert_eq!(received(&server, "GET", "/v3/merchant-service/images/RETRIED.png").len(), 2);
}
