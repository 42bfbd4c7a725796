//! Guzzle's `debug` option: an exchange logged through `tracing` (target `wechatpay::debug`, level `INFO`), with
//! every secret and signature redacted. Only requests made with `debug: true` are logged here.

use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde_json::Value;
use url::Url;

/// The most of a body shown, so that a large answer does not flood the log.
const SHOWN: usize = 4 * 1024;

const REDACTED: &str = "(redacted)";

/// What a request sends, as the log shows it.
pub(crate) enum SentBody<'a> {
    None,
    /// JSON or text: shown with these dotted fields (the sensitive ones) redacted.
    Bytes {
        bytes: &'a [u8],
        redact: &'a [String],
    },
    /// An APIv2 XML payload: shown with its `sign` redacted.
    Xml(&'a [u8]),
    /// A multipart upload: its signed `meta` and its size.
    Media {
        meta: &'a [u8],
        length: u64,
    },
}

/// Logs a request about to be sent.
pub(crate) fn request(method: &Method, url: &Url, headers: &HeaderMap, body: SentBody<'_>) {
    let body = match body {
        SentBody::None => "(none)".to_owned(),
        SentBody::Bytes { bytes, redact } => json_or_text(bytes, redact),
        SentBody::Xml(bytes) => xml_without_sign(&String::from_utf8_lossy(bytes)),
        SentBody::Media { meta, length } => {
            format!("multipart/form-data, {length} bytes; meta (the part signed): {}", String::from_utf8_lossy(meta))
        }
    };
    let url = url_without_sign(url);
    tracing::info!(target: "wechatpay::debug", %method, %url, headers = %show_headers(headers), %body, "request");
}

/// Logs an answer as it arrived, before it is judged.
pub(crate) fn answer(method: &Method, url: &Url, status: StatusCode, headers: &HeaderMap, body: &[u8]) {
    let shown = if headers.get("Content-Type").and_then(|value| value.to_str().ok()).is_some_and(is_xml) {
        xml_without_sign(&String::from_utf8_lossy(body))
    } else {
        json_or_text(body, &[])
    };
    let url = url_without_sign(url);
    tracing::info!(
        target: "wechatpay::debug",
        %method, %url, status = status.as_u16(), headers = %show_headers(headers), body = %shown, "answer"
    );
}

/// The URL with a `sign` query parameter redacted: an APIv2 GET sends its signed payload as the query.
fn url_without_sign(url: &Url) -> String {
    if !url.query_pairs().any(|(name, _)| name == "sign") {
        return url.to_string();
    }
    let mut shown = url.clone();
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .map(|(name, value)| {
            let value = if name == "sign" { REDACTED.to_owned() } else { value.into_owned() };
            (name.into_owned(), value)
        })
        .collect();
    shown.query_pairs_mut().clear().extend_pairs(pairs);
    shown.to_string()
}

fn is_xml(content_type: &str) -> bool {
    content_type.contains("xml")
}

/// Headers as `Name: value` lines, signatures redacted (the `Authorization` parameters but `signature` are kept:
/// they help to debug a signature WeChat Pay refused).
fn show_headers(headers: &HeaderMap) -> String {
    let mut shown = String::new();
    for (name, value) in headers {
        let value = value.to_str().unwrap_or("(not text)");
        let value = match name.as_str() {
            "authorization" => redact_signature_parameter(value),
            "wechatpay-signature" => REDACTED.to_owned(),
            _ => value.to_owned(),
        };
        if !shown.is_empty() {
            shown.push_str(", ");
        }
        shown.push_str(name.as_str());
        shown.push_str(": ");
        shown.push_str(&value);
    }
    shown
}

/// `WECHATPAY2-SHA256-RSA2048 mchid="..",...,signature="..."` with the signature's value replaced.
fn redact_signature_parameter(authorization: &str) -> String {
    let (scheme, parameters) = authorization.split_once(' ').unwrap_or((authorization, ""));
    let parameters: Vec<String> = parameters
        .split(',')
        .map(|parameter| match parameter.split_once('=') {
            Some((name, _)) if name.trim() == "signature" => format!("{name}=\"{REDACTED}\""),
            _ => parameter.to_owned(),
        })
        .collect();
    format!("{scheme} {}", parameters.join(","))
}

/// A JSON body with `redact` fields replaced, else the text; cut to [`SHOWN`] bytes.
fn json_or_text(bytes: &[u8], redact: &[String]) -> String {
    if bytes.is_empty() {
        return "(empty)".to_owned();
    }
    let text = match serde_json::from_slice::<Value>(bytes) {
        Ok(mut json) => {
            for field in redact {
                // A field the body lacks was refused before sending; nothing to hide then.
                let _ = crate::sensitive::transform(&mut json, field, &mut |_| Ok(REDACTED.to_owned()));
            }
            json.to_string()
        }
        Err(_) if std::str::from_utf8(bytes).is_ok() => String::from_utf8_lossy(bytes).into_owned(),
        Err(_) => return format!("({} bytes, not text)", bytes.len()),
    };
    cut(text)
}

/// The XML with the text of every `<sign>` element replaced.
fn xml_without_sign(xml: &str) -> String {
    let mut shown = String::with_capacity(xml.len());
    let mut rest = xml;
    while let Some(start) = rest.find("<sign>") {
        let open = start + "<sign>".len();
        shown.push_str(&rest[..open]);
        match rest[open..].find("</sign>") {
            Some(end) => {
                shown.push_str(REDACTED);
                rest = &rest[open + end..];
            }
            None => {
                shown.push_str(REDACTED);
                rest = "";
            }
        }
    }
    shown.push_str(rest);
    cut(shown)
}

fn cut(mut text: String) -> String {
    if text.len() > SHOWN {
        let mut end = SHOWN;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        let total = text.len();
        text.truncate(end);
        text.push_str(&format!("... ({total} bytes in all)"));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_authorization_signature_is_redacted_and_the_rest_kept() {
        let shown = redact_signature_parameter(
            "WECHATPAY2-SHA256-RSA2048 mchid=\"1900000001\",nonce_str=\"N\",signature=\"c2lnbmF0dXJl\",timestamp=\"1\",serial_no=\"5F\"",
        );
        assert!(!shown.contains("c2lnbmF0dXJl"), "{shown}");
        assert!(shown.contains("signature=\"(redacted)\""), "{shown}");
        assert!(shown.contains("mchid=\"1900000001\"") && shown.contains("serial_no=\"5F\""), "{shown}");
    }

    #[test]
    fn sensitive_fields_and_apiv2_signs_are_redacted() {
        let body = br#"{"user_name":"CIPHERTEXT","items":[{"id_no":"C1"},{"id_no":"C2"}],"amount":1}"#;
        let shown = json_or_text(body, &["user_name".into(), "items.id_no".into()]);
        assert!(!shown.contains("CIPHERTEXT") && !shown.contains("C1") && !shown.contains("C2"), "{shown}");
        assert!(shown.contains("\"amount\":1"), "{shown}");
        let xml = "<xml><a>1</a><sign>9A0A8659F005D6984697E2CA0A9CF3B7</sign></xml>";
        let shown = xml_without_sign(xml);
        assert_eq!(shown, "<xml><a>1</a><sign>(redacted)</sign></xml>");
        assert_eq!(xml_without_sign("<xml><sign>cut"), "<xml><sign>(redacted)");
    }

    #[test]
    fn an_apiv2_get_shows_its_query_without_the_sign() {
        let url = Url::parse("https://api.mch.weixin.qq.com/papay/entrustweb?mch_id=1&sign=9A0A8659F005D698&z=2")
            .expect("a URL");
        let shown = url_without_sign(&url);
        assert!(!shown.contains("9A0A8659F005D698"), "{shown}");
        assert!(
            shown.contains("mch_id=1") && shown.contains("sign=%28redacted%29") && shown.contains("z=2"),
            "{shown}"
        );
        let plain = Url::parse("https://api.mch.weixin.qq.com/v3/certificates?a=1").expect("a URL");
        assert_eq!(url_without_sign(&plain), plain.as_str());
    }

    #[test]
    fn long_and_binary_bodies_are_cut() {
        let long = "é".repeat(SHOWN);
        let shown = json_or_text(long.as_bytes(), &[]);
        assert!(shown.len() < long.len() && shown.ends_with(&format!("({} bytes in all)", long.len())));
        assert_eq!(json_or_text(&[0xff, 0xfe, 0], &[]), "(3 bytes, not text)");
    }
}
