//! Endpoints without state: schema checks and example answers from the catalog.

mod common;

use common::{Client, server, verify};
use serde_json::json;
use sha1::{Digest as _, Sha1};

#[tokio::test]
async fn catalog_endpoints_check_required_fields_and_answer_examples() {
    let server = server().await;
    let c = Client::new(&server);
    let order = json!({
        "transaction_id": "4208450740201411110007820472",
        "out_order_no": "P20150806125346",
        "receivers": [{ "type": "MERCHANT_ID", "account": "86693852", "amount": 888, "description": "分给商户A" }],
        "unfreeze_unsplit": true,
        "appid": "wx8888888888888888",
    });
    let a = c.call_verified("POST", "/v3/profitsharing/orders", Some(&order)).await;
    assert_eq!(a.status, 200, "{}", a.message());
    assert!(a.json().is_object());

    let mut missing = order.clone();
    missing.as_object_mut().map(|o| o.remove("transaction_id"));
    let a = c.call_verified("POST", "/v3/profitsharing/orders", Some(&missing)).await;
    assert_eq!((a.status, a.code().as_str()), (400, "PARAM_ERROR"));
    assert!(a.message().contains("transaction_id"), "{}", a.message());
    assert_eq!(a.json()["detail"]["field"], "transaction_id");

    let mut bad_enum = order.clone();
    bad_enum["receivers"][0]["type"] = json!("NOBODY");
    let a = c.call_verified("POST", "/v3/profitsharing/orders", Some(&bad_enum)).await;
    assert_eq!(a.status, 400);
    assert!(a.message().contains("receivers[0].type"), "{}", a.message());

    // 204 endpoints answer a signed empty body.
    let close = json!({ "sp_mchid": "1230000109", "sub_mchid": "1900000109" });
    let a = c.call_verified("POST", "/v3/pay/partner/transactions/out-trade-no/X1/close", Some(&close)).await;
    assert_eq!(a.status, 204);
    assert!(a.body.is_empty());

    // A path the catalog knows with another method.
    let a = c.call_verified("GET", "/v3/profitsharing/orders", None).await;
    assert_eq!((a.status, a.code().as_str()), (405, "METHOD_NOT_ALLOWED"));
    // Required query parameters of stateful endpoints come from the catalog too.
    let a = c.call_verified("GET", "/v3/bill/fundflowbill", None).await;
    assert_eq!(a.json()["detail"]["location"], "query");
}

#[tokio::test]
async fn downloads_are_unsigned_or_signed_over_the_statement_digest() {
    let server = server().await;
    let c = Client::new(&server);
    let image = c.call("GET", "/v3/merchant-service/images/BB04A5DEEFEA18D4F2554C1EDD3B610B.bmp", None).await;
    assert_eq!(image.status, 200);
    assert!(!image.body.is_empty());
    assert!(image.header("Wechatpay-Signature").is_none(), "image downloads are not signed");

    let statement = c.call("GET", "/v3/global/statements?date=2024-01-01", None).await;
    assert_eq!(statement.status, 200);
    let sha1: String = Sha1::digest(&statement.body).iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(statement.header("Wechatpay-Statement-Sha1"), Some(sha1.as_str()));
    let literal = format!(r#"{{"sha1":"{sha1}"}}"#);
    verify(&c.ids, &statement.headers, literal.as_bytes()).expect("statements are signed over {\"sha1\":...}");
    assert!(verify(&c.ids, &statement.headers, &statement.body).is_err());
    let a = c.call_verified("GET", "/hk/v3/statements", None).await;
    assert!(a.status == 400 && a.message().contains("date"));
}
