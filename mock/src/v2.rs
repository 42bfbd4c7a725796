//! APIv2 (XML): flat `<xml>` payloads signed with the APIv2 key (MD5 or HMAC-SHA256 over the sorted
//! `k=v&...&key=KEY` string), answered with signed XML (a few endpoints answer unsigned, as WeChat does).

use aws_lc_rs::hmac;
use md5::{Digest as _, Md5};

use crate::routes::{Reply, Signing};
use crate::util::{hex_upper, random_alnum, random_digits, rfc3339_cst};

/// Endpoints that answer without a `sign`.
const UNSIGNED: [&str; 4] = [
    "/pay/downloadbill",
    "/mmpaymkttransfers/promotion/transfers",
    "/mmpaymkttransfers/sendredpack",
    "/risk/getpublickey",
];

/// The two APIv2 signature kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SignType {
    Md5,
    HmacSha256,
}

/// `sign` over the fields: keys sorted (ASCII), `sign` and empty values left out, `&key=` appended,
/// upper-case hex of MD5 or HMAC-SHA256 (keyed with the APIv2 key).
pub(crate) fn sign(fields: &[(String, String)], key: &str, kind: SignType) -> String {
    let mut pairs: Vec<&(String, String)> = fields.iter().filter(|(k, v)| k != "sign" && !v.is_empty()).collect();
    pairs.sort_by(|a, b| a.0.cmp(&b.0));
    let mut text = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&");
    text.push_str("&key=");
    text.push_str(key);
    match kind {
        SignType::Md5 => hex_upper(&Md5::digest(text.as_bytes())),
        SignType::HmacSha256 => {
            let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key.as_bytes()), text.as_bytes());
            hex_upper(tag.as_ref())
        }
    }
}

fn unescape(text: &str) -> String {
    if !text.contains('&') {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        let Some(end) = tail.find(';') else {
            out.push_str(tail);
            return out;
        };
        let entity = &tail[1..end];
        let decoded = match entity {
            "lt" => Some('<'),
            "gt" => Some('>'),
            "amp" => Some('&'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => entity
                .strip_prefix("#x")
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .or_else(|| entity.strip_prefix('#').and_then(|d| d.parse().ok()))
                .and_then(char::from_u32),
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &tail[end + 1..];
            }
            None => {
                out.push('&');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Parses a flat `<xml><k>v</k>...</xml>` document. DOCTYPE and entity declarations are refused (XXE).
pub(crate) fn parse_xml(body: &[u8]) -> Result<Vec<(String, String)>, String> {
    let text = std::str::from_utf8(body).map_err(|_| "the XML is not UTF-8".to_owned())?;
    let upper = text.to_ascii_uppercase();
    if upper.contains("<!DOCTYPE") || upper.contains("<!ENTITY") {
        return Err("XML with DOCTYPE or ENTITY declarations is refused".into());
    }
    let mut rest = text.trim();
    if rest.starts_with("<?xml") {
        let end = rest.find("?>").ok_or("unterminated XML declaration")?;
        rest = rest[end + 2..].trim_start();
    }
    rest = rest.strip_prefix("<xml>").ok_or("the root element must be <xml>")?;
    rest = rest.trim_end().strip_suffix("</xml>").ok_or("the root element must be closed by </xml>")?;
    let mut fields = Vec::new();
    loop {
        rest = rest.trim_start();
        if rest.is_empty() {
            return Ok(fields);
        }
        let open = rest.strip_prefix('<').ok_or("text outside an element")?;
        let name_end = open.find('>').ok_or("unterminated tag")?;
        let name = &open[..name_end];
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.') {
            return Err(format!("bad element name `{}`", name.chars().take(32).collect::<String>()));
        }
        let content = &open[name_end + 1..];
        let close = format!("</{name}>");
        let (value, after) = if let Some(cdata) = content.strip_prefix("<![CDATA[") {
            let end = cdata.find("]]>").ok_or("unterminated CDATA")?;
            let after =
                cdata[end + 3..].strip_prefix(close.as_str()).ok_or_else(|| format!("<{name}> is not closed"))?;
            (cdata[..end].to_owned(), after)
        } else {
            let end = content.find(&close).ok_or_else(|| format!("<{name}> is not closed"))?;
            (unescape(&content[..end]), &content[end + close.len()..])
        };
        fields.push((name.to_owned(), value));
        rest = after;
    }
}

/// Renders flat XML with CDATA sections, as WeChat Pay writes it.
pub(crate) fn render_xml(fields: &[(String, String)]) -> String {
    let mut out = String::from("<xml>");
    for (k, v) in fields {
        if v.contains("]]>") {
            let escaped = v.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
            out.push_str(&format!("<{k}>{escaped}</{k}>"));
        } else {
            out.push_str(&format!("<{k}><![CDATA[{v}]]></{k}>"));
        }
    }
    out.push_str("</xml>");
    out
}

fn xml_reply(body: String) -> Reply {
    Reply {
        status: 200,
        body: body.into_bytes(),
        content_type: Some("text/xml; charset=utf-8"),
        signing: Signing::Unsigned,
        extra_headers: Vec::new(),
        stream: None,
    }
}

/// `return_code=FAIL`: WeChat Pay's answer to a request it cannot take (HTTP 200 all the same).
fn fail(message: &str) -> Reply {
    xml_reply(render_xml(&[("return_code".into(), "FAIL".into()), ("return_msg".into(), message.into())]))
}

/// What the handler needs from the account.
pub(crate) struct Account<'a> {
    pub(crate) mchid: &'a str,
    pub(crate) apiv2_key: &'a str,
    /// PKCS#1 PEM of the key `/risk/getpublickey` hands out.
    pub(crate) rsa_public_key_pem: &'a str,
    pub(crate) now: i64,
}

/// Answers one APIv2 request.
pub(crate) fn handle(path: &str, body: &[u8], account: &Account<'_>) -> Reply {
    let fields = match parse_xml(body) {
        Ok(f) => f,
        Err(e) => return fail(&format!("XML格式错误 (bad XML: {e})")),
    };
    let get = |name: &str| fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    let Some(mchid) = get("mch_id").or_else(|| get("mchid")) else {
        return fail("缺少参数mch_id (missing mch_id)");
    };
    if mchid != account.mchid {
        return fail("mch_id参数错误 (mch_id is not this merchant)");
    }
    let Some(their_sign) = get("sign") else {
        return fail("缺少参数sign (missing sign)");
    };
    let kind = match get("sign_type") {
        None | Some("MD5") => SignType::Md5,
        Some("HMAC-SHA256") => SignType::HmacSha256,
        Some(other) => return fail(&format!("sign_type参数错误 (unknown sign_type {other})")),
    };
    if !sign(&fields, account.apiv2_key, kind).eq_ignore_ascii_case(their_sign) {
        return fail("签名错误 (the sign does not match; check the APIv2 key and the sign_type)");
    }

    if path == "/pay/downloadbill" {
        let date = get("bill_date").unwrap_or_default();
        return Reply {
            content_type: Some("text/plain; charset=utf-8"),
            ..xml_reply(format!(
                "交易时间,公众账号ID,商户号,微信订单号,商户订单号,交易状态,应结订单金额\r\n总交易单数,应结订单总金额\r\n`0,`0.00\r\n# {date}\r\n"
            ))
        };
    }

    let mut answer: Vec<(String, String)> = vec![
        ("return_code".into(), "SUCCESS".into()),
        ("return_msg".into(), "OK".into()),
        ("result_code".into(), "SUCCESS".into()),
        ("nonce_str".into(), random_alnum(32)),
    ];
    let echo = [
        "appid",
        "mch_appid",
        "mch_id",
        "mchid",
        "sub_appid",
        "sub_mch_id",
        "device_info",
        "out_trade_no",
        "transaction_id",
        "out_refund_no",
        "partner_trade_no",
        "mch_billno",
        "re_openid",
        "total_amount",
        "total_fee",
        "refund_fee",
    ];
    for name in echo {
        if let Some(v) = get(name) {
            answer.push((name.to_owned(), v.to_owned()));
        }
    }
    let mut add = |k: &str, v: String| answer.push((k.to_owned(), v));
    match path {
        "/pay/unifiedorder" => {
            for required in ["body", "out_trade_no", "total_fee", "spbill_create_ip", "notify_url", "trade_type"] {
                if get(required).is_none_or(str::is_empty) {
                    return fail(&format!("缺少参数{required} (missing {required})"));
                }
            }
            let trade_type = get("trade_type").unwrap_or_default().to_owned();
            if trade_type == "NATIVE" {
                add("code_url", format!("weixin://wxpay/bizpayurl?pr={}", random_alnum(7)));
            }
            add("trade_type", trade_type);
            add("prepay_id", format!("wx{}", random_alnum(30).to_ascii_lowercase()));
        }
        "/pay/orderquery" => {
            add("trade_state", "NOTPAY".into());
            add("trade_state_desc", "订单未支付".into());
        }
        "/secapi/pay/refund" => add("refund_id", format!("50{}", random_digits(27))),
        "/mmpaymkttransfers/promotion/transfers" => {
            add("payment_no", random_digits(32));
            add("payment_time", rfc3339_cst(account.now).replace('T', " ").replace("+08:00", ""));
        }
        "/mmpaymkttransfers/sendredpack" => add("send_listid", random_digits(28)),
        "/risk/getpublickey" => add("pub_key", account.rsa_public_key_pem.to_owned()),
        _ => {}
    }
    if !UNSIGNED.contains(&path) {
        let s = sign(&answer, account.apiv2_key, kind);
        answer.push(("sign".into(), s));
    }
    xml_reply(render_xml(&answer))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vector() -> Vec<(String, String)> {
        [
            ("appid", "wxd930ea5d5a258f4f"),
            ("mch_id", "10000100"),
            ("device_info", "1000"),
            ("body", "test"),
            ("nonce_str", "ibuaiVcKdpRxkhJA"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
    }

    #[test]
    fn official_vectors() {
        let key = "192006250b4c09247ec02edce69f6a2d";
        assert_eq!(sign(&vector(), key, SignType::Md5), "9A0A8659F005D6984697E2CA0A9CF3B7");
        assert_eq!(
            sign(&vector(), key, SignType::HmacSha256),
            "6A9AE1657590FD6257D693A078E1C3E4BB6BA4DC30B23E0EE2496E54170DACD6"
        );
    }

    #[test]
    fn xml_round_trip_and_refusals() {
        let fields = vec![("a".to_owned(), "x<y & ]]> z".to_owned()), ("b".to_owned(), "中文".to_owned())];
        assert_eq!(parse_xml(render_xml(&fields).as_bytes()).ok(), Some(fields));
        assert_eq!(
            parse_xml(b"<?xml version=\"1.0\"?>\n<xml>\n <a>1 &amp; 2</a>\n <b><![CDATA[<c>]]></b>\n</xml>").ok(),
            Some(vec![("a".into(), "1 & 2".into()), ("b".into(), "<c>".into())])
        );
        assert!(parse_xml(b"<!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/passwd\">]><xml><a>&e;</a></xml>").is_err());
        assert!(parse_xml(b"<xml><a>1</xml>").is_err());
        assert!(parse_xml(b"<root></root>").is_err());
        assert!(parse_xml(b"<xml><a><![CDATA[x</a></xml>").is_err());
        assert_eq!(unescape("&#x4E2D;&#25991;&bogus;&"), "中文&bogus;&");
    }
}
