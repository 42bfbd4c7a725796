//! The seed: cancel a transfer to a QQ wallet, in the PHP SDK's six call styles (property chain, chain(), index;
//! each blocking and async), against wechatpay-mock.

mod common;

use serde_json::{Value, json};

fn assert_cancelled(answer: &Value, created: &Value) {
    assert_eq!(answer["out_bill_no"], created["out_bill_no"]);
    assert_eq!(answer["transfer_bill_no"], created["transfer_bill_no"]);
    assert!(answer["transfer_bill_no"].as_str().is_some_and(|no| !no.is_empty()));
    assert_eq!(answer["state"], "CANCELING", "{answer}");
}

const TEMPLATE: &str = "v3/fund-app/mch-transfer/transfer-to-qq-wallet-bills/{out_bill_no}/cancel";

#[test]
fn property_chain_blocking() {
    let server = common::mock();
    let instance = common::client(&server);
    let no = common::bill_no("plfkchain");
    let created = common::create_transfer(&instance, &no);
    let response = instance
        .v3()
        .fund_app()
        .mch_transfer()
        .transfer_to_qq_wallet_bills()
        ._out_bill_no_()
        .cancel()
        .post(json!({ "out_bill_no": no }))
        .unwrap();
    assert_cancelled(&response.json().unwrap(), &created);
    assert!(response.verified_by().is_some());
    // The seed's call has no `json` key: the request has no body.
    let sent = server.last_request().unwrap();
    assert!(sent.body.is_empty(), "cancel must be sent without a body");
    assert_eq!(sent.target, format!("/v3/fund-app/mch-transfer/transfer-to-qq-wallet-bills/{no}/cancel"));
}

#[test]
fn chain_blocking() {
    let server = common::mock();
    let instance = common::client(&server);
    let no = common::bill_no("plfkCHAIN");
    let created = common::create_transfer(&instance, &no);
    let answer: Value = instance.chain(TEMPLATE).post(json!({ "out_bill_no": no })).unwrap().json().unwrap();
    assert_cancelled(&answer, &created);
}

#[test]
fn index_blocking() {
    let server = common::mock();
    let instance = common::client(&server);
    let no = common::bill_no("plfkIndex");
    let created = common::create_transfer(&instance, &no);
    let answer: Value = instance[TEMPLATE].post(json!({ "out_bill_no": no })).unwrap().json().unwrap();
    assert_cancelled(&answer, &created);
}

#[tokio::test]
async fn property_chain_async() {
    let server = common::mock();
    let instance = common::client(&server);
    let no = common::bill_no("plfkchainasync");
    let created = common::create_transfer(&instance, &no);
    let response = instance
        .v3()
        .fund_app()
        .mch_transfer()
        .transfer_to_qq_wallet_bills()
        ._out_bill_no_()
        .cancel()
        .post_async(json!({ "out_bill_no": no }))
        .await
        .unwrap();
    assert_cancelled(&response.json().unwrap(), &created);
}

#[tokio::test]
async fn chain_async() {
    let server = common::mock();
    let instance = common::client(&server);
    let no = common::bill_no("plfkchainAsync");
    let created = common::create_transfer(&instance, &no);
    let answer: Value =
        instance.chain(TEMPLATE).post_async(json!({ "out_bill_no": no })).await.unwrap().json().unwrap();
    assert_cancelled(&answer, &created);
}

#[tokio::test]
async fn index_async_spawned() {
    let server = common::mock();
    let instance = common::client(&server);
    let no = common::bill_no("plfkindexasync");
    let created = common::create_transfer(&instance, &no);
    // The future is Send + 'static: it can be spawned.
    let future = instance[TEMPLATE].post_async(json!({ "out_bill_no": no }));
    let answer: Value = tokio::spawn(future).await.unwrap().unwrap().json().unwrap();
    assert_cancelled(&answer, &created);
}

#[test]
fn the_whole_story_create_query_cancel_query() {
    let server = common::mock();
    let instance = common::client(&server);
    let no = common::bill_no("plfkstory");
    let created = common::create_transfer(&instance, &no);
    assert_eq!(created["state"], "ACCEPTED");
    let bill = &instance["v3/fund-app/mch-transfer/transfer-to-qq-wallet-bills/{out_bill_no}"];
    let queried: Value = bill.get(json!({ "out_bill_no": no })).unwrap().json().unwrap();
    assert_eq!(queried["transfer_bill_no"], created["transfer_bill_no"]);
    instance[TEMPLATE].post(json!({ "out_bill_no": no })).unwrap();
    let after: Value = bill.get(json!({ "out_bill_no": no })).unwrap().json().unwrap();
    assert!(matches!(after["state"].as_str(), Some("CANCELING" | "CANCELLED")), "{after}");
    // A bill that succeeded cannot be cancelled: a typed API error with the Request-ID.
    let paid = common::bill_no("plfkpaid");
    common::create_transfer(&instance, &paid);
    server.set_transfer_state(&paid, wechatpay_mock::TransferState::Success).unwrap();
    match instance[TEMPLATE].post(json!({ "out_bill_no": paid })) {
        Err(wechatpay::Error::Api { status: 400, code, request_id, .. }) => {
            assert_eq!(code, "INVALID_REQUEST");
            assert!(request_id.is_some());
        }
        other => panic!("expected INVALID_REQUEST, got {other:?}"),
    }
    // An unknown bill is a 404 NOT_FOUND.
    match bill.get(json!({ "out_bill_no": "nosuchbill" })) {
        Err(wechatpay::Error::Api { status: 404, code, .. }) => assert_eq!(code, "NOT_FOUND"),
        other => panic!("expected NOT_FOUND, got {other:?}"),
    }
}
