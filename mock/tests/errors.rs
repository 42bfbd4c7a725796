//! WeChat Pay's error answers for unknown ids and wrong states, in every stateful APIv3 family: status, code and
//! WeChat's message, signed, with a `Request-ID`; endpoints without state keep answering from the catalog.

mod common;

use common::{Answer, Client, ids, server, verify};
use serde_json::{Value, json};
use wechatpay_mock::{Server, TransferState};

const QQ: &str = "/v3/fund-app/mch-transfer/transfer-to-qq-wallet-bills";
const BILLS: &str = "/v3/fund-app/mch-transfer/transfer-bills";

fn order(mchid: &str, out_trade_no: &str) -> Value {
    json!({
        "appid": "wxd678efh567hg6787", "mchid": mchid, "description": "d", "out_trade_no": out_trade_no,
        "notify_url": "https://example.invalid/n", "amount": { "total": 100, "currency": "CNY" },
    })
}

fn qq_bill(out_bill_no: &str, amount: i64) -> Value {
    json!({
        "appid": "102022609", "out_bill_no": out_bill_no, "transfer_scene_id": "1401",
        "transfer_scene_report_infos": [{ "info_type": "活动名称", "info_content": "注册会员有礼" }],
        "openid": "o-MYE42l80oelYMDE34nYD456Xoy", "transfer_amount": amount, "transfer_remark": "2020年4月报销",
    })
}

fn mch_bill(out_bill_no: &str) -> Value {
    json!({
        "appid": "wxf636efh567hg4356", "out_bill_no": out_bill_no, "transfer_scene_id": "1000",
        "transfer_scene_report_infos": [{ "info_type": "活动名称", "info_content": "新会员有礼" }],
        "openid": "o-MYE42l80oelYMDE34nYD456Xoy", "transfer_amount": 400, "transfer_remark": "新会员开通有礼",
    })
}

fn refund(out_trade_no: &str, out_refund_no: &str, amount: i64) -> Value {
    json!({
        "out_trade_no": out_trade_no, "out_refund_no": out_refund_no,
        "amount": { "refund": amount, "total": 100, "currency": "CNY" },
    })
}

/// What WeChat Pay answers: status, `code`, `message`.
type Expected<'a> = (u16, &'a str, &'a str);

/// Asserts the answer is WeChat Pay's error: status, code, message, signed, with a `Request-ID`.
fn assert_error(what: &str, c: &Client, answer: &Answer, (status, code, message): Expected<'_>) {
    assert_eq!((answer.status, answer.code().as_str(), answer.message().as_str()), (status, code, message), "{what}");
    verify(&c.ids, &answer.headers, &answer.body).unwrap_or_else(|e| panic!("{what}: the error is not signed: {e}"));
    assert!(answer.header("Request-ID").is_some_and(|id| !id.is_empty()), "{what}: Request-ID");
}

#[tokio::test]
async fn unknown_ids_get_wechat_pays_codes_in_every_family() {
    let server = server().await;
    let c = Client::new(&server);
    let mchid = c.ids.mchid.clone();
    let order_not_exist = (404, "ORDER_NOT_EXIST", "订单不存在");
    let not_found = (404, "NOT_FOUND", "记录不存在");
    let cases: Vec<(&str, String, Option<Value>, Expected<'_>)> = vec![
        ("GET", format!("/v3/pay/transactions/out-trade-no/NEVER?mchid={mchid}"), None, order_not_exist),
        ("GET", format!("/v3/pay/transactions/id/4200000000202401010000000000?mchid={mchid}"), None, order_not_exist),
        (
            "POST",
            "/v3/pay/transactions/out-trade-no/NEVER/close".to_owned(),
            Some(json!({ "mchid": mchid })),
            order_not_exist,
        ),
        (
            "POST",
            "/v3/refund/domestic/refunds".to_owned(),
            Some(refund("NEVER", "R0", 1)),
            (404, "RESOURCE_NOT_EXISTS", "订单不存在"),
        ),
        (
            "POST",
            "/v3/refund/domestic/refunds".to_owned(),
            Some(json!({ "transaction_id": "4200000000202401010000000000", "out_refund_no": "R0",
                         "amount": { "refund": 1, "total": 100, "currency": "CNY" } })),
            (404, "RESOURCE_NOT_EXISTS", "订单不存在"),
        ),
        ("GET", "/v3/refund/domestic/refunds/NEVER".to_owned(), None, (404, "RESOURCE_NOT_EXISTS", "退款单不存在")),
        ("GET", format!("{QQ}/NEVER"), None, not_found),
        ("POST", format!("{QQ}/NEVER/cancel"), None, not_found),
        ("GET", format!("{BILLS}/out-bill-no/NEVER"), None, not_found),
        ("GET", format!("{BILLS}/transfer-bill-no/1330000000000000000000000000000000000000"), None, not_found),
        ("POST", format!("{BILLS}/out-bill-no/NEVER/cancel"), None, not_found),
        (
            "GET",
            "/v3/billdownload/file?token=NEVER".to_owned(),
            None,
            (400, "INVALID_REQUEST", "账单下载链接已失效或不存在，请重新申请账单"),
        ),
    ];
    for (method, target, body, expected) in cases {
        let answer = c.call(method, &target, body.as_ref()).await;
        assert_error(&format!("{method} {target}"), &c, &answer, expected);
    }

    // A bill of one product is unknown to the other's endpoints.
    c.call_verified("POST", QQ, Some(&qq_bill("QQONLY", 100))).await;
    let answer = c.call("GET", &format!("{BILLS}/out-bill-no/QQONLY"), None).await;
    assert_error("a QQ-wallet bill asked as a merchant transfer", &c, &answer, not_found);

    // Endpoints without state keep answering from the catalog, whatever id they are given.
    let answer = c.call_verified("GET", "/v3/marketing/favor/stocks/NEVER?stock_creator_mchid=1900000001", None).await;
    assert_eq!(answer.status, 200, "{}", String::from_utf8_lossy(&answer.body));
}

#[tokio::test]
async fn wrong_states_get_invalid_request_and_friends_with_wechat_pays_messages() {
    let server = server().await;
    let c = Client::new(&server);
    let mchid = c.ids.mchid.clone();
    let prepay = "/v3/pay/transactions/native";

    // Prepay: the same out_trade_no with other parameters, after payment, after close.
    c.call_verified("POST", prepay, Some(&order(&mchid, "W1"))).await;
    let mut other = order(&mchid, "W1");
    other["amount"]["total"] = json!(99);
    assert_error(
        "a reused out_trade_no",
        &c,
        &c.call("POST", prepay, Some(&other)).await,
        (400, "INVALID_REQUEST", "201 商户订单号重复"),
    );
    server.pay_order("W1").expect("payable");
    let paid = c.call("POST", prepay, Some(&order(&mchid, "W1"))).await;
    assert_error("a prepay of a paid order", &c, &paid, (400, "INVALID_REQUEST", "该订单已支付"));
    let close = |no: &str| format!("/v3/pay/transactions/out-trade-no/{no}/close");
    let answer = c.call("POST", &close("W1"), Some(&json!({ "mchid": mchid }))).await;
    assert_error("closing a paid order", &c, &answer, (400, "ORDERPAID", "订单已支付"));
    c.call_verified("POST", prepay, Some(&order(&mchid, "W2"))).await;
    assert_eq!(c.call_verified("POST", &close("W2"), Some(&json!({ "mchid": mchid }))).await.status, 204);
    let closed = c.call("POST", prepay, Some(&order(&mchid, "W2"))).await;
    assert_error("a prepay of a closed order", &c, &closed, (400, "ORDER_CLOSED", "订单已关闭"));

    // Refunds: of an unpaid order, over the refundable amount, the same out_refund_no for another amount.
    c.call_verified("POST", prepay, Some(&order(&mchid, "W3"))).await;
    let refunds = "/v3/refund/domestic/refunds";
    let unpaid = c.call("POST", refunds, Some(&refund("W3", "WR3", 10))).await;
    assert_error("refunding an unpaid order", &c, &unpaid, (400, "INVALID_REQUEST", "订单未支付，不能退款"));
    assert_eq!(c.call_verified("POST", refunds, Some(&refund("W1", "WR1", 60))).await.status, 200);
    let over = c.call("POST", refunds, Some(&refund("W1", "WR2", 41))).await;
    assert_error("refunding more than is left", &c, &over, (400, "INVALID_REQUEST", "申请退款金额超过订单可退金额"));
    let changed = c.call("POST", refunds, Some(&refund("W1", "WR1", 30))).await;
    assert_error(
        "the same out_refund_no for another amount",
        &c,
        &changed,
        (400, "INVALID_REQUEST", "订单金额或退款金额与之前请求不一致，请核实后再试"),
    );
    assert_eq!(c.call_verified("POST", refunds, Some(&refund("W1", "WR1", 60))).await.status, 200, "a retry is fine");

    // Transfers: the same out_bill_no with another amount or for the other product; cancelling a final bill.
    c.call_verified("POST", QQ, Some(&qq_bill("WT1", 100))).await;
    let reused = c.call("POST", QQ, Some(&qq_bill("WT1", 200))).await;
    assert_error("a reused out_bill_no", &c, &reused, (400, "INVALID_REQUEST", "商户单号重复，且与原单参数不一致"));
    let crossed = c.call("POST", BILLS, Some(&mch_bill("WT1"))).await;
    assert_error(
        "an out_bill_no of the other product",
        &c,
        &crossed,
        (400, "INVALID_REQUEST", "商户单号重复，且与原单参数不一致"),
    );
    server.set_transfer_state("WT1", TransferState::Success).expect("known bill");
    let late = c.call("POST", &format!("{QQ}/WT1/cancel"), None).await;
    assert_error("cancelling a finished bill", &c, &late, (400, "INVALID_REQUEST", "转账单已是终态，不可撤销"));
}

#[tokio::test]
async fn a_merchant_without_platform_certificates_is_told_to_use_the_public_key() {
    let server = Server::builder().identities(ids()).public_key_only().start().await.expect("server");
    let c = Client::new(&server);
    let answer = c.call("GET", "/v3/certificates", None).await;
    assert_error(
        "GET /v3/certificates in public-key mode",
        &c,
        &answer,
        (404, "RESOURCE_NOT_EXISTS", "无可用的平台证书，请在商户平台-API安全申请使用微信支付公钥"),
    );
}
