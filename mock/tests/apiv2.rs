//! APIv2 (XML): sign checks with MD5 and HMAC-SHA256, signed and unsigned answers, XXE refusal.

mod common;

use std::time::Duration;

use aws_lc_rs::cipher::{AES_256, DecryptionContext, PaddedBlockDecryptingKey, UnboundCipherKey};
use base64::Engine as _;
use common::{Client, ids, listener, server};
use hmac::{KeyInit as _, Mac as _};
use md5::Digest as _;
use wechatpay_mock::{Clock, Server};

/// The APIv2 signature, written here: sorted `k=v` pairs without `sign` and empty values, `&key=`.
fn v2_sign(fields: &[(&str, String)], key: &str, hmac_sha256: bool) -> String {
    let mut pairs: Vec<_> = fields.iter().filter(|(k, v)| *k != "sign" && !v.is_empty()).collect();
    pairs.sort_by_key(|(k, _)| *k);
    let text = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&") + "&key=" + key;
    let raw: Vec<u8> = if hmac_sha256 {
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(key.as_bytes()).expect("any key length");
        mac.update(text.as_bytes());
        mac.finalize().into_bytes().to_vec()
    } else {
        md5::Md5::digest(text.as_bytes()).to_vec()
    };
    raw.iter().map(|b| format!("{b:02X}")).collect()
}

fn xml(fields: &[(&str, String)]) -> Vec<u8> {
    let inner: String = fields.iter().map(|(k, v)| format!("<{k}><![CDATA[{v}]]></{k}>")).collect();
    format!("<xml>{inner}</xml>").into_bytes()
}

/// Reads a flat answer: name → value.
fn fields_of(body: &[u8]) -> Vec<(String, String)> {
    let text = String::from_utf8_lossy(body);
    let mut out = Vec::new();
    let mut rest = text.trim().trim_start_matches("<xml>").trim_end_matches("</xml>");
    while let Some(start) = rest.find('<') {
        let Some(end) = rest[start..].find('>') else { break };
        let name = rest[start + 1..start + end].to_owned();
        let close = format!("</{name}>");
        let Some(stop) = rest.find(&close) else { break };
        let value = rest[start + end + 1..stop].trim_start_matches("<![CDATA[").trim_end_matches("]]>").to_owned();
        out.push((name, value));
        rest = &rest[stop + close.len()..];
    }
    out
}

fn get<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

async fn post(c: &Client, path: &str, body: Vec<u8>) -> Vec<(String, String)> {
    let a = c.raw("POST", path, &[("Content-Type", "text/xml".to_owned())], body).await.expect("answer");
    assert_eq!(a.status, 200, "APIv2 always answers 200");
    fields_of(&a.body)
}

#[test]
fn the_test_signer_matches_the_official_vector() {
    let fields = [
        ("appid", "wxd930ea5d5a258f4f".to_owned()),
        ("mch_id", "10000100".to_owned()),
        ("device_info", "1000".to_owned()),
        ("body", "test".to_owned()),
        ("nonce_str", "ibuaiVcKdpRxkhJA".to_owned()),
    ];
    let key = "192006250b4c09247ec02edce69f6a2d";
    assert_eq!(v2_sign(&fields, key, false), "9A0A8659F005D6984697E2CA0A9CF3B7");
    assert_eq!(v2_sign(&fields, key, true), "6A9AE1657590FD6257D693A078E1C3E4BB6BA4DC30B23E0EE2496E54170DACD6");
}

#[tokio::test]
async fn signed_requests_get_signed_answers_in_both_sign_types() {
    let server = server().await;
    let c = Client::new(&server);
    let key = c.ids.apiv2_key.clone();
    for hmac_sha256 in [false, true] {
        let mut fields = vec![
            ("appid", "wxd930ea5d5a258f4f".to_owned()),
            ("mch_id", c.ids.mchid.clone()),
            ("nonce_str", common::nonce()),
            ("body", "test".to_owned()),
            ("out_trade_no", "V2ORDER1".to_owned()),
            ("total_fee", "1".to_owned()),
            ("spbill_create_ip", "127.0.0.1".to_owned()),
            ("notify_url", "https://example.invalid/n".to_owned()),
            ("trade_type", "NATIVE".to_owned()),
        ];
        if hmac_sha256 {
            fields.push(("sign_type", "HMAC-SHA256".to_owned()));
        }
        let s = v2_sign(&fields, &key, hmac_sha256);
        fields.push(("sign", s));
        let answer = post(&c, "/pay/unifiedorder", xml(&fields)).await;
        assert_eq!(get(&answer, "return_code"), Some("SUCCESS"), "{answer:?}");
        assert_eq!(get(&answer, "result_code"), Some("SUCCESS"));
        assert_eq!(get(&answer, "out_trade_no"), Some("V2ORDER1"));
        assert!(get(&answer, "code_url").is_some_and(|u| u.starts_with("weixin://")));
        let their: Vec<(&str, String)> = answer.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
        assert_eq!(get(&answer, "sign"), Some(v2_sign(&their, &key, hmac_sha256).as_str()), "answers are signed alike");
    }
}

#[tokio::test]
async fn bad_signatures_merchants_and_xml_fail() {
    let server = server().await;
    let c = Client::new(&server);
    let mut fields =
        vec![("mch_id", c.ids.mchid.clone()), ("nonce_str", common::nonce()), ("out_trade_no", "X".to_owned())];
    fields.push(("sign", v2_sign(&fields, "wrong-key", false)));
    let answer = post(&c, "/pay/orderquery", xml(&fields)).await;
    assert_eq!(get(&answer, "return_code"), Some("FAIL"));
    assert!(get(&answer, "return_msg").is_some_and(|m| m.contains("签名错误")));

    let mut other = vec![("mch_id", "10000100".to_owned()), ("nonce_str", common::nonce())];
    other.push(("sign", v2_sign(&other, &c.ids.apiv2_key, false)));
    let answer = post(&c, "/pay/orderquery", xml(&other)).await;
    assert!(get(&answer, "return_msg").is_some_and(|m| m.contains("mch_id")));

    let xxe = format!(
        "<!DOCTYPE xml [<!ENTITY e SYSTEM \"file:///etc/passwd\">]><xml><mch_id>{}</mch_id><nonce_str>&e;</nonce_str></xml>",
        c.ids.mchid
    );
    let answer = post(&c, "/pay/orderquery", xxe.into_bytes()).await;
    assert_eq!(get(&answer, "return_code"), Some("FAIL"));
    assert!(!answer.iter().any(|(_, v)| v.contains("root:")), "entities are never expanded");

    let mut no_sign_type = vec![("mch_id", c.ids.mchid.clone()), ("sign_type", "SHA1".to_owned())];
    no_sign_type.push(("sign", "00".to_owned()));
    let answer = post(&c, "/pay/orderquery", xml(&no_sign_type)).await;
    assert!(get(&answer, "return_msg").is_some_and(|m| m.contains("sign_type")));
}

#[tokio::test]
async fn some_endpoints_answer_unsigned() {
    let server = server().await;
    let c = Client::new(&server);
    let mut fields =
        vec![("mch_id", c.ids.mchid.clone()), ("nonce_str", common::nonce()), ("sign_type", "MD5".to_owned())];
    fields.push(("sign", v2_sign(&fields, &c.ids.apiv2_key, false)));
    let answer = post(&c, "/risk/getpublickey", xml(&fields)).await;
    assert_eq!(get(&answer, "return_code"), Some("SUCCESS"));
    assert!(get(&answer, "sign").is_none());
    assert!(get(&answer, "pub_key").is_some_and(|k| k.starts_with("-----BEGIN RSA PUBLIC KEY-----")));

    let mut bill = vec![
        ("appid", "wxd930ea5d5a258f4f".to_owned()),
        ("mch_id", c.ids.mchid.clone()),
        ("nonce_str", common::nonce()),
        ("bill_date", "20240101".to_owned()),
        ("bill_type", "ALL".to_owned()),
    ];
    bill.push(("sign", v2_sign(&bill, &c.ids.apiv2_key, false)));
    let a = c.raw("POST", "/pay/downloadbill", &[], xml(&bill)).await.expect("answer");
    assert!(String::from_utf8_lossy(&a.body).starts_with("交易时间"), "the bill text itself");
}

/// A signed (MD5) APIv2 call of this merchant with these fields.
async fn call(c: &Client, path: &str, fields: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut all = vec![("mch_id", c.ids.mchid.clone()), ("nonce_str", common::nonce())];
    all.extend(fields.iter().map(|(k, v)| (*k, (*v).to_owned())));
    all.push(("sign", v2_sign(&all, &c.ids.apiv2_key, false)));
    post(c, path, xml(&all)).await
}

/// `(result_code, err_code)` of an answer whose `return_code` is SUCCESS.
fn outcome(answer: &[(String, String)]) -> (String, String) {
    assert_eq!(get(answer, "return_code"), Some("SUCCESS"), "{answer:?}");
    let field = |name| get(answer, name).unwrap_or_default().to_owned();
    (field("result_code"), field("err_code"))
}

fn unifiedorder<'a>(out_trade_no: &'a str, total_fee: &'a str, notify_url: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("appid", "wxd930ea5d5a258f4f"),
        ("body", "test"),
        ("out_trade_no", out_trade_no),
        ("total_fee", total_fee),
        ("spbill_create_ip", "127.0.0.1"),
        ("notify_url", notify_url),
        ("trade_type", "NATIVE"),
    ]
}

/// A payment code that pays at once (under the password threshold).
fn micropay<'a>(out_trade_no: &'a str, total_fee: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("appid", "wxd930ea5d5a258f4f"),
        ("body", "test"),
        ("out_trade_no", out_trade_no),
        ("total_fee", total_fee),
        ("spbill_create_ip", "127.0.0.1"),
        ("auth_code", "134567890123456789"),
    ]
}

#[tokio::test]
async fn unknown_numbers_and_wrong_states_get_wechat_pays_codes() {
    let server = server().await;
    let c = Client::new(&server);
    let fail = |code: &str| ("FAIL".to_owned(), code.to_owned());

    // Unknown numbers, in every stateful family.
    for (path, fields, code, description) in [
        ("/pay/orderquery", vec![("out_trade_no", "NEVER")], "ORDERNOTEXIST", "此交易订单号不存在"),
        (
            "/pay/orderquery",
            vec![("transaction_id", "4200000000000000000000000000")],
            "ORDERNOTEXIST",
            "此交易订单号不存在",
        ),
        ("/pay/closeorder", vec![("out_trade_no", "NEVER")], "ORDERNOTEXIST", "此交易订单号不存在"),
        ("/secapi/pay/reverse", vec![("out_trade_no", "NEVER")], "ORDERNOTEXIST", "此交易订单号不存在"),
        (
            "/secapi/pay/refund",
            vec![("out_trade_no", "NEVER"), ("out_refund_no", "R"), ("total_fee", "1"), ("refund_fee", "1")],
            "ORDERNOTEXIST",
            "此交易订单号不存在",
        ),
        ("/pay/refundquery", vec![("out_refund_no", "NEVER")], "REFUNDNOTEXIST", "退款订单查询失败"),
        (
            "/mmpaymkttransfers/gethbinfo",
            vec![("mch_billno", "NEVER"), ("bill_type", "MCHT")],
            "NOT_FOUND",
            "指定单号数据不存在",
        ),
        ("/mmpaymkttransfers/gettransferinfo", vec![("partner_trade_no", "NEVER")], "NOT_FOUND", "指定单号数据不存在"),
    ] {
        let answer = call(&c, path, &fields).await;
        assert_eq!(outcome(&answer), fail(code), "{path}: {answer:?}");
        assert_eq!(get(&answer, "err_code_des"), Some(description), "{path}");
        if !["/mmpaymkttransfers/gethbinfo", "/mmpaymkttransfers/gettransferinfo"].contains(&path) {
            let their: Vec<(&str, String)> = answer.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
            assert_eq!(get(&answer, "sign"), Some(v2_sign(&their, &c.ids.apiv2_key, false).as_str()), "{path}: signed");
        }
    }

    // Wrong states: closing, re-ordering and refunding what cannot be.
    assert_eq!(
        outcome(&call(&c, "/pay/unifiedorder", &unifiedorder("C1", "100", "https://example.invalid/n")).await).0,
        "SUCCESS"
    );
    let same_number_other_amount =
        call(&c, "/pay/unifiedorder", &unifiedorder("C1", "99", "https://example.invalid/n")).await;
    assert_eq!(outcome(&same_number_other_amount), fail("OUT_TRADE_NO_USED"));
    let unpaid_refund = [("out_trade_no", "C1"), ("out_refund_no", "CR1"), ("total_fee", "100"), ("refund_fee", "1")];
    assert_eq!(outcome(&call(&c, "/secapi/pay/refund", &unpaid_refund).await), fail("TRADE_STATE_ERROR"));
    assert_eq!(
        outcome(&call(&c, "/pay/closeorder", &[("out_trade_no", "C1")]).await),
        ("SUCCESS".into(), String::new())
    );
    let query = call(&c, "/pay/orderquery", &[("out_trade_no", "C1")]).await;
    assert_eq!(get(&query, "trade_state"), Some("CLOSED"));
    assert_eq!(outcome(&call(&c, "/pay/closeorder", &[("out_trade_no", "C1")]).await), fail("ORDERCLOSED"));
    let reopen = call(&c, "/pay/unifiedorder", &unifiedorder("C1", "100", "https://example.invalid/n")).await;
    assert_eq!(outcome(&reopen), fail("ORDERCLOSED"));
    assert_eq!(outcome(&call(&c, "/pay/micropay", &micropay("C1", "100")).await), fail("ORDERCLOSED"));

    assert_eq!(outcome(&call(&c, "/pay/micropay", &micropay("P1", "100")).await).0, "SUCCESS");
    assert_eq!(outcome(&call(&c, "/pay/closeorder", &[("out_trade_no", "P1")]).await), fail("ORDERPAID"));
    let paid_again = call(&c, "/pay/unifiedorder", &unifiedorder("P1", "100", "https://example.invalid/n")).await;
    assert_eq!(outcome(&paid_again), fail("ORDERPAID"));
    let too_much = [("out_trade_no", "P1"), ("out_refund_no", "PR1"), ("total_fee", "100"), ("refund_fee", "101")];
    assert_eq!(outcome(&call(&c, "/secapi/pay/refund", &too_much).await), fail("NOTENOUGH"));

    // Red packets and transfers to balance are kept: a retry answers the same number, the query finds it.
    let red_packet = [
        ("mch_billno", "HB1"),
        ("wxappid", "wxd930ea5d5a258f4f"),
        ("send_name", "s"),
        ("re_openid", "oxTWIuGaIt6gTKsQRLau2M0yL16E"),
        ("total_amount", "100"),
        ("total_num", "1"),
        ("wishing", "w"),
        ("client_ip", "127.0.0.1"),
        ("act_name", "a"),
        ("remark", "r"),
    ];
    let sent = call(&c, "/mmpaymkttransfers/sendredpack", &red_packet).await;
    let again = call(&c, "/mmpaymkttransfers/sendredpack", &red_packet).await;
    assert_eq!(get(&sent, "send_listid"), get(&again, "send_listid"));
    let info = call(&c, "/mmpaymkttransfers/gethbinfo", &[("mch_billno", "HB1"), ("bill_type", "MCHT")]).await;
    assert_eq!(outcome(&info), ("SUCCESS".into(), String::new()));
    assert_eq!((get(&info, "status"), get(&info, "detail_id")), (Some("SENT"), get(&sent, "send_listid")));
    assert_eq!(get(&info, "sign"), None, "gethbinfo answers unsigned, as WeChat Pay does");

    let transfer = [
        ("mch_appid", "wxd930ea5d5a258f4f"),
        ("partner_trade_no", "T1"),
        ("openid", "oxTWIuGaIt6gTKsQRLau2M0yL16E"),
        ("check_name", "NO_CHECK"),
        ("amount", "100"),
        ("desc", "理赔"),
        ("spbill_create_ip", "127.0.0.1"),
    ];
    let paid = call(&c, "/mmpaymkttransfers/promotion/transfers", &transfer).await;
    assert_eq!(
        get(&call(&c, "/mmpaymkttransfers/promotion/transfers", &transfer).await, "payment_no"),
        get(&paid, "payment_no")
    );
    let info =
        call(&c, "/mmpaymkttransfers/gettransferinfo", &[("partner_trade_no", "T1"), ("appid", "wxd930ea5d5a258f4f")])
            .await;
    assert_eq!((get(&info, "status"), get(&info, "detail_id")), (Some("SUCCESS"), get(&paid, "payment_no")));
    assert_eq!((get(&info, "payment_amount"), get(&info, "desc")), (Some("100"), Some("理赔")));

    // Endpoints without state still answer SUCCESS (the catalog fallback of APIv2).
    let other = call(&c, "/pay/paporderquery", &[("appid", "wxd930ea5d5a258f4f"), ("out_trade_no", "X")]).await;
    assert_eq!(outcome(&other).0, "SUCCESS");
}

#[tokio::test]
async fn xml_attacks_are_refused_and_nothing_is_fetched_or_changed() {
    let server = server().await;
    let c = Client::new(&server);
    // Where an external entity would be fetched from: nothing may ever connect here.
    let bait = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let bait_url = format!("http://{}/xxe", bait.local_addr().expect("addr"));
    let mchid = c.ids.mchid.clone();
    let signed_order = |extra: &str| {
        // A real, correctly signed unifiedorder, with the attack spliced into the document.
        let mut fields = vec![("mch_id", mchid.clone()), ("nonce_str", common::nonce())];
        fields.extend(
            unifiedorder("ATTACK1", "100", "https://example.invalid/n").iter().map(|(k, v)| (*k, (*v).to_owned())),
        );
        fields.push(("sign", v2_sign(&fields, &c.ids.apiv2_key, false)));
        String::from_utf8(xml(&fields)).expect("utf8").replacen("<xml>", extra, 1)
    };
    let attacks = [
        (
            "XXE, external general entity",
            format!(
                "<?xml version=\"1.0\"?><!DOCTYPE xml [<!ENTITY x SYSTEM \"{bait_url}\">]><xml><mch_id>{mchid}</mch_id><body>&x;</body></xml>"
            ),
        ),
        (
            "XXE, local file",
            "<!DOCTYPE xml [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><xml><body>&x;</body></xml>".to_owned(),
        ),
        (
            "XXE, external parameter entity",
            format!("<!DOCTYPE xml [<!ENTITY % p SYSTEM \"{bait_url}\"> %p;]><xml><mch_id>{mchid}</mch_id></xml>"),
        ),
        ("billion laughs", {
            let mut doctype = String::from("<!DOCTYPE xml [<!ENTITY lol \"lol\">");
            for i in 1..=9 {
                let previous = if i == 1 { "lol".to_owned() } else { format!("lol{}", i - 1) };
                doctype.push_str(&format!("<!ENTITY lol{i} \"{}\">", format!("&{previous};").repeat(10)));
            }
            doctype + "]><xml><body>&lol9;</body></xml>"
        }),
        ("an undeclared entity", format!("<xml><mch_id>{mchid}</mch_id><body>&lol9;</body></xml>")),
        ("a DOCTYPE in front of a correctly signed request", signed_order("<!DOCTYPE xml><xml>")),
        (
            "fragment injection: nested elements",
            format!(
                "<xml><mch_id>{mchid}</mch_id><payment><account>5678</account><amount>100.00</amount></payment></xml>"
            ),
        ),
        ("mismatched tags", format!("<xml><mch_id>{mchid}</mch_id><body>x</bdy></xml>")),
    ];
    for (name, body) in attacks {
        let answer = post(&c, "/pay/unifiedorder", body.into_bytes()).await;
        assert_eq!(get(&answer, "return_code"), Some("FAIL"), "{name}: {answer:?}");
        assert!(!answer.iter().any(|(_, v)| v.contains("root:") || v.contains("lollol")), "{name}: nothing expanded");
    }
    // A field given twice (one smuggled in beside the signed one) is refused, not read either way.
    let doubled = signed_order("<xml><total_fee>1</total_fee>");
    let answer = post(&c, "/pay/unifiedorder", doubled.into_bytes()).await;
    assert_eq!(get(&answer, "return_code"), Some("FAIL"), "{answer:?}");
    assert!(get(&answer, "return_msg").is_some_and(|m| m.contains("total_fee")), "{answer:?}");
    // Closing tags inside CDATA stay the value's text: they open no field, so the sign still covers it all.
    let mut fields = vec![("mch_id", mchid.clone()), ("nonce_str", common::nonce())];
    fields
        .extend(unifiedorder("ATTACK2", "100", "https://example.invalid/n").iter().map(|(k, v)| (*k, (*v).to_owned())));
    fields.retain(|(k, _)| *k != "body");
    fields.push(("body", "x</body><total_fee>1</total_fee><body>".to_owned()));
    fields.push(("sign", v2_sign(&fields, &c.ids.apiv2_key, false)));
    assert_eq!(outcome(&post(&c, "/pay/unifiedorder", xml(&fields)).await).0, "SUCCESS");
    let query = call(&c, "/pay/orderquery", &[("out_trade_no", "ATTACK2")]).await;
    assert_eq!(get(&query, "total_fee"), Some("100"), "the order is for the signed amount");

    // None of the refused documents made an order, and nothing connected to the bait.
    let none = call(&c, "/pay/orderquery", &[("out_trade_no", "ATTACK1")]).await;
    assert_eq!(get(&none, "err_code"), Some("ORDERNOTEXIST"));
    let connected = tokio::time::timeout(Duration::from_millis(200), bait.accept()).await;
    assert!(connected.is_err(), "no entity was ever fetched");
}

/// `req_info` of a refund callback, decrypted: AES-256-ECB under the lower-case hex MD5 of the APIv2 key.
fn open_req_info(req_info: &str, apiv2_key: &str) -> Vec<(String, String)> {
    let key: String = md5::Md5::digest(apiv2_key.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
    let mut data = base64::engine::general_purpose::STANDARD.decode(req_info).expect("base64");
    let cipher = PaddedBlockDecryptingKey::ecb_pkcs7(UnboundCipherKey::new(&AES_256, key.as_bytes()).expect("key"))
        .expect("ECB");
    let plain = cipher.decrypt(&mut data, DecryptionContext::None).expect("decrypts").to_vec();
    let text = String::from_utf8(plain).expect("utf8").replace("<root>", "<xml>").replace("</root>", "</xml>");
    fields_of(text.as_bytes())
}

#[tokio::test]
async fn apiv2_orders_and_refunds_move_on_by_the_clock_and_call_back_in_xml() {
    let (url, mut rx) = listener(200, "<xml><return_code><![CDATA[SUCCESS]]></return_code></xml>").await;
    let server = Server::builder()
        .identities(ids())
        .clock(Clock::manual())
        .auto_pay(Some(Duration::from_secs(10)))
        .auto_advance(Some(Duration::from_secs(60)))
        .auto_notify(true)
        .start()
        .await
        .expect("server");
    let c = Client::new(&server);
    let key = c.ids.apiv2_key.clone();
    assert_eq!(outcome(&call(&c, "/pay/unifiedorder", &unifiedorder("V2T1", "250", &url)).await).0, "SUCCESS");
    server.advance_time(Duration::from_secs(9));
    assert_eq!(get(&call(&c, "/pay/orderquery", &[("out_trade_no", "V2T1")]).await, "trade_state"), Some("NOTPAY"));
    server.advance_time(Duration::from_secs(1));

    // The payment callback: signed XML, to the order's notify_url, with no request in between.
    let (line, headers, body) =
        tokio::time::timeout(Duration::from_secs(20), rx.recv()).await.expect("in time").expect("one");
    assert!(line.starts_with("POST /notify/wechat"), "{line}");
    assert!(headers.iter().any(|(k, v)| k.eq_ignore_ascii_case("content-type") && v.contains("xml")), "{headers:?}");
    let paid = fields_of(&body);
    assert_eq!((get(&paid, "result_code"), get(&paid, "out_trade_no")), (Some("SUCCESS"), Some("V2T1")));
    assert_eq!(get(&paid, "total_fee"), Some("250"));
    let their: Vec<(&str, String)> = paid.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
    assert_eq!(get(&paid, "sign"), Some(v2_sign(&their, &key, false).as_str()), "signed with the APIv2 key (MD5)");
    let transaction_id = get(&paid, "transaction_id").expect("transaction_id").to_owned();

    // A refund naming a notify_url ends one step later and calls back with req_info.
    let refund = [
        ("transaction_id", transaction_id.as_str()),
        ("out_refund_no", "V2TR1"),
        ("total_fee", "250"),
        ("refund_fee", "50"),
        ("notify_url", url.as_str()),
    ];
    assert_eq!(outcome(&call(&c, "/secapi/pay/refund", &refund).await).0, "SUCCESS");
    server.advance_time(Duration::from_secs(60));
    let (_, _, body) = tokio::time::timeout(Duration::from_secs(20), rx.recv()).await.expect("in time").expect("two");
    let outer = fields_of(&body);
    assert_eq!(get(&outer, "return_code"), Some("SUCCESS"));
    let inner = open_req_info(get(&outer, "req_info").expect("req_info"), &key);
    assert_eq!(get(&inner, "out_refund_no"), Some("V2TR1"));
    assert_eq!((get(&inner, "refund_status"), get(&inner, "refund_fee")), (Some("SUCCESS"), Some("50")));

    let records = server.wait_for_deliveries(2, Duration::from_secs(20)).await.expect("recorded");
    let labels: Vec<_> = records.iter().map(|r| (r.event_type.as_str(), r.result.clone())).collect();
    assert!(labels.contains(&("APIV2.PAYMENT", Ok(200))) && labels.contains(&("APIV2.REFUND", Ok(200))), "{labels:?}");
}
