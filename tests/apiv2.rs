//! APIv2 against wechatpay-mock: micropay (pay, query, reverse), refunds (request, query, `req_info` callback), a
//! red packet over mutual TLS, bill downloads, payment callbacks; the request checks PHP makes; hostile answers.

mod common;

use common::{bill_no, canned_server, client, mock, v2_config};
use serde_json::{Value, json};
use wechatpay::crypto::{Certificate, PrivateKey};
use wechatpay::{Builder, Error, VerificationFailure, XmlNotification};
use wechatpay_mock::Server;

const APPID: &str = "wxd930ea5d5a258f4f";
/// A payment code as a scanner reads it: 18 digits starting 10 to 15.
const AUTH_CODE: &str = "134567890123456789";

fn v2(server: &Server) -> Builder {
    Builder::factory(v2_config(server)).expect("factory")
}

fn micropay(
    instance: &Builder,
    mchid: &str,
    out_trade_no: &str,
    total_fee: u64,
) -> wechatpay::Result<wechatpay::Response> {
    instance.v2().pay().micropay().post(json!({"xml": {
        "appid": APPID, "mch_id": mchid, "body": "image形象店-深圳腾大- QQ公仔", "out_trade_no": out_trade_no,
        "total_fee": total_fee, "spbill_create_ip": "127.0.0.1", "auth_code": AUTH_CODE,
    }}))
}

fn query(instance: &Builder, mchid: &str, out_trade_no: &str) -> serde_json::Map<String, Value> {
    let answer = instance.v2().pay().orderquery().post(json!({"xml": {
        "appid": APPID, "mch_id": mchid, "out_trade_no": out_trade_no,
    }}));
    answer.expect("orderquery").xml().expect("XML")
}

fn err_code(result: wechatpay::Result<wechatpay::Response>) -> String {
    match result {
        Err(Error::ApiV2(failure)) => failure.err_code.unwrap_or_default(),
        other => panic!("expected an APIv2 FAIL, got {other:?}"),
    }
}

#[test]
fn micropay_then_query_then_reverse() {
    let server = mock();
    let instance = v2(&server);
    let mchid = server.identities().mchid.clone();
    let no = bill_no("MICRO");

    let paid = micropay(&instance, &mchid, &no, 501).expect("paid at once");
    assert_eq!(paid.verified_by(), Some("MD5"), "the answer's sign was checked");
    let paid = paid.xml().expect("XML");
    assert_eq!((paid["result_code"].as_str(), paid["total_fee"].as_str()), (Some("SUCCESS"), Some("501")));
    let sent = wechatpay::Transformer::to_array(server.last_request().expect("logged").body).expect("sent XML");
    assert_eq!(sent["nonce_str"].as_str().map(str::len), Some(32), "a nonce_str is added");
    assert_eq!(sent["sign"].as_str().map(str::len), Some(32), "MD5 by default");

    assert_eq!(query(&instance, &mchid, &no)["trade_state"], "SUCCESS");
    let reversed = instance.v2().secapi().pay().reverse().post(json!({
        "xml": {"appid": APPID, "mch_id": mchid, "out_trade_no": no},
        "security": true,
        "base_uri": server.tls_base_uri(),
    }));
    assert_eq!(reversed.expect("reversed").xml().expect("XML")["recall"], "N");
    assert_eq!(query(&instance, &mchid, &no)["trade_state"], "REVOKED");
    assert!(server.tls_connections_accepted() >= 1, "the reversal went over mutual TLS");

    // Paid again with the same number: WeChat's code, typed.
    assert_eq!(err_code(micropay(&instance, &mchid, &no, 501)), "ORDERREVERSED");
    let unknown = instance.v2().pay().orderquery().post(json!({"xml": {"mch_id": mchid, "out_trade_no": "NOPE"}}));
    assert_eq!(err_code(unknown), "ORDERNOTEXIST");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_micropay_waiting_for_the_password_is_queried_until_paid() {
    let server =
        Server::builder().identities(wechatpay_mock::Identities::shared().expect("ids")).start().await.expect("mock");
    let instance = v2(&server);
    let mchid = server.identities().mchid.clone();
    let no = bill_no("PASSWORD");
    let options = json!({"xml": {
        "appid": APPID, "mch_id": mchid, "body": "a big one", "out_trade_no": no, "total_fee": 100_000,
        "spbill_create_ip": "127.0.0.1", "auth_code": AUTH_CODE, "sign_type": "HMAC-SHA256",
    }});
    let Err(Error::ApiV2(failure)) = instance.v2().pay().micropay().post_async(options).await else {
        panic!("USERPAYING is a business failure");
    };
    assert_eq!(failure.err_code.as_deref(), Some("USERPAYING"));
    assert_eq!(failure.result_code.as_deref(), Some("FAIL"));
    assert!(failure.to_string().contains("USERPAYING"), "{failure}");

    let mut states = Vec::new();
    for _ in 0..5 {
        let answer = instance["v2/pay/orderquery"]
            .post_async(json!({"xml": {"mch_id": mchid, "out_trade_no": no, "sign_type": "HMAC-SHA256"}}))
            .await
            .expect("orderquery");
        assert_eq!(answer.verified_by(), Some("HMAC-SHA256"), "answers are signed as asked");
        let state = answer.xml().expect("XML")["trade_state"].as_str().unwrap_or_default().to_owned();
        states.push(state.clone());
        if state == "SUCCESS" {
            break;
        }
    }
    assert_eq!(states, ["USERPAYING", "SUCCESS"]);
}

#[test]
fn refund_then_query_then_the_req_info_callback() {
    let server = mock();
    let instance = v2(&server);
    let ids = server.identities().clone();
    let (trade, refund_no) = (bill_no("TRADE"), bill_no("REFUND"));
    micropay(&instance, &ids.mchid, &trade, 800).expect("paid");

    #[derive(serde::Deserialize)]
    struct Refunded {
        out_refund_no: String,
        refund_fee: u64,
        refund_id: String,
    }
    let refund = |fee: u64| {
        instance.chain("v2/secapi/pay/refund").post(json!({
            "xml": {"appid": APPID, "mch_id": ids.mchid, "out_trade_no": trade, "out_refund_no": refund_no,
                    "total_fee": 800, "refund_fee": fee},
            "security": true,
            "base_uri": server.tls_base_uri(),
        }))
    };
    let refunded: Refunded = refund(300).expect("refund taken").xml_as().expect("typed");
    assert_eq!((refunded.out_refund_no.as_str(), refunded.refund_fee), (refund_no.as_str(), 300));
    assert!(refunded.refund_id.starts_with("50"));
    assert_eq!(err_code(refund(301)), "PARAM_ERROR", "the same out_refund_no with another amount");

    let refundquery = || {
        let answer = instance.v2().pay().refundquery().post(json!({"xml": {
            "appid": APPID, "mch_id": ids.mchid, "out_refund_no": refund_no,
        }}));
        answer.expect("refundquery").xml().expect("XML")
    };
    assert_eq!(refundquery()["refund_status_0"], "PROCESSING");
    assert_eq!(refundquery()["refund_status_0"], "SUCCESS");
    let missing =
        instance.v2().pay().refundquery().post(json!({"xml": {"mch_id": ids.mchid, "out_refund_no": "NOPE"}}));
    assert_eq!(err_code(missing), "REFUNDNOTEXIST");

    let callback = server.v2_refund_notification(&refund_no).expect("callback");
    let notification = XmlNotification::decrypt_refund(&callback, &ids.apiv2_key).expect("req_info decrypts");
    assert_eq!(notification.get("out_refund_no"), Some(refund_no.as_str()));
    assert_eq!(notification.get("refund_status"), Some("SUCCESS"));
    assert_eq!(notification.get("refund_id"), Some(refunded.refund_id.as_str()));
    assert!(XmlNotification::decrypt_refund(&callback, "0123456789abcdef0123456789abcdef").is_err());
    assert!(XmlNotification::success().contains("SUCCESS"));
}

#[test]
fn payment_callbacks_are_verified_with_the_apiv2_key() {
    let server = mock();
    let instance = v2(&server);
    let ids = server.identities().clone();
    let no = bill_no("NATIVE");
    let order = instance.v2().pay().unifiedorder().post(json!({"xml": {
        "appid": APPID, "mch_id": ids.mchid, "body": "native", "out_trade_no": no, "total_fee": 1,
        "spbill_create_ip": "127.0.0.1", "notify_url": "https://example.com/notify", "trade_type": "NATIVE",
    }}));
    assert!(
        order.expect("ordered").xml().expect("XML")["code_url"].as_str().is_some_and(|u| u.starts_with("weixin://"))
    );
    assert_eq!(query(&instance, &ids.mchid, &no)["trade_state"], "NOTPAY");

    let callback = server.v2_payment_notification(&no).expect("the payer pays");
    #[derive(serde::Deserialize)]
    struct Paid {
        out_trade_no: String,
        total_fee: u64,
        result_code: String,
    }
    let paid: Paid = XmlNotification::verify(&callback, &ids.apiv2_key).expect("signed").deserialize().expect("typed");
    assert_eq!((paid.out_trade_no.as_str(), paid.total_fee, paid.result_code.as_str()), (no.as_str(), 1, "SUCCESS"));
    assert_eq!(query(&instance, &ids.mchid, &no)["trade_state"], "SUCCESS");

    let forged = String::from_utf8_lossy(&callback).replace("<total_fee><![CDATA[1]]>", "<total_fee><![CDATA[100]]>");
    let err = XmlNotification::verify(forged.as_bytes(), &ids.apiv2_key).unwrap_err();
    assert!(matches!(err, Error::Verification { failure: VerificationFailure::SignMismatch, .. }), "{err}");
    let err = XmlNotification::verify(&callback, "another key").unwrap_err();
    assert!(matches!(err, Error::Verification { failure: VerificationFailure::SignMismatch, .. }));
    assert!(!err.to_string().contains(&ids.apiv2_key), "the key is never shown");
}

#[test]
fn a_red_packet_goes_over_mutual_tls_and_nothing_else_gets_in() {
    let server = mock();
    let instance = v2(&server);
    let ids = server.identities().clone();
    let red_packet = |security: bool| {
        json!({
            "xml": {"mch_billno": "RP20240101001", "mch_id": ids.mchid, "wxappid": APPID, "send_name": "天虹百货",
                    "re_openid": "oxTWIuGaIt6gTKsQRLau2M0yL16E", "total_amount": 1000, "total_num": 1,
                    "wishing": "感谢您参加猜灯谜活动", "client_ip": "192.168.0.1", "act_name": "猜灯谜抢红包活动",
                    "remark": "猜越多得越多"},
            "security": security,
            "base_uri": server.tls_base_uri(),
        })
    };
    let sent = instance.v2().mmpaymkttransfers().sendredpack().post(red_packet(true)).expect("sent");
    assert_eq!(sent.verified_by(), None, "sendredpack answers unsigned, as WeChat Pay does");
    let answer = sent.xml().expect("XML");
    assert_eq!((answer["result_code"].as_str(), answer["total_amount"].as_str()), (Some("SUCCESS"), Some("1000")));
    let listid = answer["send_listid"].clone();
    let again = instance.v2().mmpaymkttransfers().sendredpack().post_async(red_packet(true));
    let again = tokio::runtime::Runtime::new().expect("runtime").block_on(again).expect("retried");
    assert_eq!(again.xml().expect("XML")["send_listid"], listid, "a retry is the same red packet");
    let accepted = server.tls_connections_accepted();
    assert!(accepted >= 1);

    // Without the merchant certificate the handshake is refused, and the request never reaches WeChat Pay.
    let served = server.requests_served();
    let err = instance.v2().mmpaymkttransfers().sendredpack().post(red_packet(false)).unwrap_err();
    assert!(matches!(err, Error::Transport { .. }), "{err}");
    assert!(err.to_string().contains("merchant certificate"), "{err}");
    // A certificate that the merchant CA did not issue fares no better.
    let stranger = Builder::factory(v2_config(&server).merchant_tls(
        Certificate::load("file://tests/fixtures/merchant_certificate.pem").expect("fixture"),
        PrivateKey::load("file://tests/fixtures/merchant_private_key.pem").expect("fixture"),
    ))
    .expect("factory");
    let err = stranger.v2().mmpaymkttransfers().sendredpack().post(red_packet(true)).unwrap_err();
    assert!(matches!(err, Error::Transport { .. }), "{err}");
    assert_eq!(server.requests_served(), served, "no refused client got a request through");
    // The server counts a refusal once its side of the handshake has ended, which may be just after the client's.
    for _ in 0..200 {
        if server.tls_handshakes_refused() >= 2 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert!(server.tls_handshakes_refused() >= 2);

    // A client that does not trust the simulator's TLS CA refuses the server instead.
    let distrustful = Builder::factory(common::config(&server).secret(&ids.apiv2_key).merchant_tls(
        Certificate::from_pem(&ids.merchant.certificate_pem).expect("certificate"),
        PrivateKey::from_pem(&ids.merchant.private_key_pem).expect("key"),
    ))
    .expect("factory");
    let err = distrustful.v2().mmpaymkttransfers().sendredpack().post(red_packet(true)).unwrap_err();
    assert!(err.to_string().contains("not trusted"), "{err:?}");
}

#[test]
fn bills_download_as_text_or_gzip() {
    let server = mock();
    let instance = v2(&server);
    let mchid = server.identities().mchid.clone();
    let no = bill_no("BILLED");
    micropay(&instance, &mchid, &no, 1234).expect("paid");
    let download = |tar_type: Option<&str>| {
        let mut xml = json!({"appid": APPID, "mch_id": mchid, "bill_date": "20240101", "bill_type": "ALL"});
        if let Some(tar_type) = tar_type {
            xml["tar_type"] = tar_type.into();
        }
        instance.v2().pay().downloadbill().post(json!({ "xml": xml })).expect("bill")
    };
    let bill = download(None);
    assert_eq!(bill.verified_by(), None);
    let text = bill.text().expect("text");
    assert!(text.starts_with("交易时间"), "{text}");
    assert!(text.contains(&format!("`{no}")) && text.contains("`12.34"), "{text}");
    assert!(download(Some("GZIP")).bytes().starts_with(&[0x1f, 0x8b]), "gzip bytes, passed through");
}

#[test]
fn requests_are_checked_as_php_checks_them() {
    let server = mock();
    let instance = v2(&server);
    let mchid = server.identities().mchid.clone();
    let orderquery = instance.v2().pay().orderquery();

    let err = orderquery.post(json!({"xml": {"mch_id": "1900000109", "out_trade_no": "X"}})).unwrap_err();
    assert!(matches!(err, Error::Options { .. }) && err.to_string().contains("1900000109"), "{err}");
    let err = orderquery.post(json!({"xml": {"out_trade_no": "X"}})).unwrap_err();
    assert!(err.to_string().contains("mch_id"), "{err}");
    let err = orderquery.post(json!({"xml": {"mch_id": mchid, "sign_type": "SHA1"}})).unwrap_err();
    assert!(err.to_string().contains("sign_type"), "{err}");
    let err = orderquery.post(json!({"xml": {"mch_id": mchid, "bad name": "x"}})).unwrap_err();
    assert!(err.to_string().contains("bad name"), "{err}");
    let err = orderquery.post(json!({"json": {"mch_id": mchid}})).unwrap_err();
    assert!(err.to_string().contains("`json` is an APIv3 option"), "{err}");
    let err = orderquery.post(json!({"xml": {"mch_id": mchid}, "need_vefify": false})).unwrap_err();
    assert!(err.to_string().contains("need_vefify"), "{err}");
    let served = server.requests_served();

    // Without the APIv2 key, or the merchant certificate for `security`, nothing is sent.
    let err = client(&server).v2().pay().orderquery().post(json!({"xml": {"mch_id": mchid}})).unwrap_err();
    assert!(matches!(err, Error::Config { ref field, .. } if field == "secret"), "{err}");
    let keyless = Builder::factory(common::config(&server).secret("k")).expect("factory");
    let err =
        keyless.v2().secapi().pay().refund().post(json!({"xml": {"mch_id": mchid}, "security": true})).unwrap_err();
    assert!(matches!(err, Error::Config { ref field, .. } if field == "merchant"), "{err}");
    assert_eq!(server.requests_served(), served);

    // nonceless: no nonce_str is added; a given sign is replaced; a value with markup stays text.
    let answer = orderquery.post(
        json!({"xml": {"mch_id": mchid, "out_trade_no": "A</out_trade_no><x>", "sign": "FORGED"}, "nonceless": true}),
    );
    assert!(matches!(answer, Err(Error::ApiV2(ref failure)) if failure.err_code.as_deref() == Some("ORDERNOTEXIST")));
    let sent = wechatpay::Transformer::to_array(server.last_request().expect("logged").body).expect("sent XML");
    assert!(sent.get("nonce_str").is_none());
    assert_eq!(sent["out_trade_no"], "A</out_trade_no><x>");
    assert_ne!(sent["sign"], "FORGED");

    // A wrong APIv2 key: WeChat Pay says so, and the key appears in no error.
    let wrong = Builder::factory(v2_config(&server).secret("0123456789abcdef0123456789abcdef")).expect("factory");
    let err = wrong.v2().pay().orderquery().post(json!({"xml": {"mch_id": mchid, "out_trade_no": "X"}})).unwrap_err();
    let Error::ApiV2(failure) = &err else { panic!("{err:?}") };
    assert_eq!(failure.return_code, "FAIL");
    assert!(err.to_string().contains("签名错误"), "{err}");
    assert!(!format!("{err:?}{err}").contains("0123456789abcdef0123456789abcdef"));
    assert!(!format!("{:?}", wrong.config()).contains("0123456789abcdef0123456789abcdef"));

    // The few GET endpoints (contract signing pages) carry the signed payload as the query.
    let url = instance
        .v2()
        .papay()
        .entrustweb()
        .url(json!({"xml": {
            "appid": APPID, "mch_id": mchid, "plan_id": "12535", "contract_code": "100000",
            "request_serial": 1000, "contract_display_account": "微信代扣", "notify_url": "https://example.com/n",
            "version": "1.0", "timestamp": 1414488825,
        }}))
        .expect("url");
    assert!(
        url.starts_with(&format!("{}papay/entrustweb?appid={APPID}&contract_code=100000", server.base_uri())),
        "{url}"
    );
    assert!(url.contains("&sign=") && url.contains("contract_display_account=%E5%BE%AE"), "{url}");
}

#[test]
fn hostile_and_broken_answers_are_refused() {
    let key = "192006250b4c09247ec02edce69f6a2d";
    let signed = |fields: &[(&str, &str)]| wechatpay_mock::apiv2::sign_xml(fields, key);
    let xxe = br#"<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<xml><return_code>SUCCESS</return_code><result_code>&xxe;</result_code></xml>"#
        .to_vec();
    let laughs = br#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;">]><xml><return_code>&lol3;</return_code></xml>"#
        .to_vec();
    let undeclared = b"<xml><return_code>SUCCESS</return_code><a>&xxe;</a></xml>".to_vec();
    let html_200 = b"<html><head><title>Bad Gateway</title></head><body>nginx</body></html>".to_vec();
    let html_404 = b"<html><body><h1>404 Not Found</h1><hr><center>nginx</center></body></html>".to_vec();
    let not_xml = b"upstream connect error or disconnect/reset before headers".to_vec();
    let unsigned = b"<xml><return_code>SUCCESS</return_code><result_code>SUCCESS</result_code></xml>".to_vec();
    let mut tampered = signed(&[("return_code", "SUCCESS"), ("result_code", "SUCCESS"), ("total_fee", "1")]);
    let at = tampered.windows(1).position(|w| w == b"1").expect("a digit");
    tampered[at] = b'9';
    let good = signed(&[("return_code", "SUCCESS"), ("result_code", "SUCCESS"), ("total_fee", "1")]);
    let base = canned_server(vec![
        (200, xxe),
        (200, laughs),
        (200, undeclared),
        (200, html_200),
        (404, html_404),
        (200, not_xml),
        (200, unsigned),
        (200, tampered),
        (200, good),
    ]);
    let mut config = common::php_config_for(&base);
    config["secret"] = key.into();
    let instance = Builder::factory(config).expect("factory");
    let send = || instance.v2().pay().orderquery().post(json!({"xml": {"mch_id": "1900000001", "out_trade_no": "T"}}));

    for hostile in ["XXE", "billion laughs", "undeclared entity"] {
        let err = send().unwrap_err();
        assert!(matches!(err, Error::Decode { .. }), "{hostile}: {err}");
        assert!(!err.to_string().contains("root:"), "{hostile}: nothing was expanded");
    }
    let err = send().unwrap_err();
    assert!(err.to_string().contains("no return_code") && err.to_string().contains("Bad Gateway"), "{err}");
    let err = send().unwrap_err();
    assert!(matches!(err, Error::Api { status: 404, ref message, .. } if message.contains("404 Not Found")), "{err}");
    let err = send().unwrap_err();
    assert!(matches!(err, Error::Decode { .. }) && err.to_string().contains("upstream"), "{err}");
    let err = send().unwrap_err();
    assert!(matches!(err, Error::Verification { failure: VerificationFailure::MissingSign, .. }), "{err}");
    let err = send().unwrap_err();
    assert!(matches!(err, Error::Verification { failure: VerificationFailure::SignMismatch, .. }), "{err}");
    assert_eq!(send().expect("a signed answer").xml().expect("XML")["total_fee"], "1");
}

#[test]
fn fragments_never_become_elements() {
    // PHP's fragment-injection sample: repeated elements are all kept (an array), never one silently replacing another.
    let sample = "<batchjob>\n<payment><account>5678-attacker</account><amount>100.00</amount><comment></comment></payment>\n\
                  <payment><account>1234-victim</account><amount>100.00</amount><comment>Hacked</comment></payment>\n</batchjob>";
    let map = wechatpay::Transformer::to_array(sample).expect("well-formed");
    assert_eq!(map["payment"].as_array().map(Vec::len), Some(2));
    assert_eq!(map["payment"][1]["account"], "1234-victim");
    // A value that looks like markup is written as text and read back as the same text.
    let injected = "x</comment></payment><payment><account>1234-victim</account><comment>";
    let mut data = serde_json::Map::new();
    data.insert("comment".into(), injected.into());
    let xml = wechatpay::Transformer::to_xml(&data).expect("escaped");
    let back = wechatpay::Transformer::to_array(&xml).expect("parses");
    assert_eq!(back.len(), 1);
    assert_eq!(back["comment"], injected);
}

#[test]
fn a_get_endpoints_query_starts_with_a_question_mark_whatever_is_left_out() {
    let server = mock();
    let instance = v2(&server);
    let mchid = server.identities().mchid.clone();
    // A null field is left out of the signed payload: when it sorts first, the query still starts with `?`.
    let url = instance
        .v2()
        .papay()
        .entrustweb()
        .url(json!({"xml": {"appid": null, "mch_id": mchid, "plan_id": "1", "contract_code": "100000"}}))
        .expect("a URL");
    let (path, query) = url.split_once('?').expect("a query");
    assert!(path.ends_with("/papay/entrustweb"), "{url}");
    assert!(!query.starts_with('&') && !query.contains("appid") && query.contains("contract_code=100000"), "{url}");
}
