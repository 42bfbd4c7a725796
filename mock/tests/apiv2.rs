//! APIv2 (XML): sign checks with MD5 and HMAC-SHA256, signed and unsigned answers, XXE refusal.

mod common;

use common::{Client, server};
use hmac::{KeyInit as _, Mac as _};
use md5::Digest as _;

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
