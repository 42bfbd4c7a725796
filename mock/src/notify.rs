//! Callbacks (notifications): signed like answers, with the resource AES-256-GCM encrypted with the APIv3 key.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};

use crate::error::MockError;
use crate::faults::Fault;
use crate::keys::{Keys, WechatKey};
use crate::util::{now_secs, random_alnum, rfc3339_cst};

/// How long a callback delivery may take, connect to last byte.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);

/// A callback as WeChat Pay would POST it: headers and the exact body bytes (verify over these bytes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    /// The notification id (`id` in the body).
    pub id: String,
    /// `event_type`, e.g. `TRANSACTION.SUCCESS`.
    pub event_type: String,
    /// `Content-Type` and the `Wechatpay-*` signature headers.
    pub headers: Vec<(String, String)>,
    /// The JSON body bytes.
    pub body: Vec<u8>,
    /// The plaintext of `resource.ciphertext` (what the merchant gets after decrypting).
    pub resource: Value,
}

impl Notification {
    /// A header value by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        crate::reply::header(&self.headers, name)
    }

    /// The body as text.
    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// What the merchant's endpoint answered to a callback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivered {
    /// The HTTP status.
    pub status: u16,
    /// The body bytes.
    pub body: Vec<u8>,
}

impl Delivered {
    /// Whether WeChat Pay would consider the callback received: 204, or 200 whose body is empty or says
    /// `{"code":"SUCCESS"}`. Anything else makes WeChat Pay retry.
    pub fn acknowledged(&self) -> bool {
        match self.status {
            204 => true,
            200 => {
                self.body.is_empty()
                    || serde_json::from_slice::<Value>(&self.body)
                        .ok()
                        .and_then(|v| v.get("code").and_then(Value::as_str).map(|c| c == "SUCCESS"))
                        .unwrap_or(false)
            }
            _ => false,
        }
    }
}

/// A callback the server posted on its own (auto-notify).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryRecord {
    /// Where it went.
    pub url: String,
    /// Its `event_type`.
    pub event_type: String,
    /// Its `id`.
    pub notification_id: String,
    /// The status the merchant answered, or why delivery failed.
    pub result: Result<u16, String>,
}

/// What a callback says: its type and summary, and the resource that is encrypted into it.
pub(crate) struct Content<'a> {
    pub(crate) event_type: &'a str,
    pub(crate) summary: &'a str,
    pub(crate) original_type: &'a str,
    pub(crate) resource: &'a Value,
}

/// A callback as WeChat Pay posts it: `resource` sealed with the APIv3 key, the body signed by `signer`.
pub(crate) fn build(keys: &Keys, signer: &WechatKey, content: &Content<'_>) -> Result<Notification, MockError> {
    let Content { event_type, summary, original_type, resource } = *content;
    let nonce = random_alnum(12);
    let plaintext = serde_json::to_vec(resource).map_err(|e| MockError::crypto(format!("resource: {e}")))?;
    let ciphertext = keys.apiv3_seal(&nonce, original_type, &plaintext)?;
    let id = format!("EV-{}", random_alnum(24));
    let body = json!({
        "id": id,
        "create_time": rfc3339_cst(now_secs()),
        "resource_type": "encrypt-resource",
        "event_type": event_type,
        "summary": summary,
        "resource": {
            "original_type": original_type,
            "algorithm": "AEAD_AES_256_GCM",
            "ciphertext": ciphertext,
            "associated_data": original_type,
            "nonce": nonce,
        },
    });
    let body = serde_json::to_vec(&body).map_err(|e| MockError::crypto(format!("body: {e}")))?;
    Ok(Notification {
        id,
        event_type: event_type.to_owned(),
        headers: sign_headers(signer, &body, None)?,
        body,
        resource: resource.clone(),
    })
}

/// `Content-Type` and the `Wechatpay-*` signature headers of a callback body, with a header fault applied.
pub(crate) fn sign_headers(
    signer: &WechatKey,
    body: &[u8],
    fault: Option<&Fault>,
) -> Result<Vec<(String, String)>, MockError> {
    let mut headers = vec![("Content-Type".to_owned(), "application/json".to_owned())];
    headers.extend(crate::sign::signature_headers(signer, body, fault)?.into_iter().map(|(k, v)| (k.to_owned(), v)));
    Ok(headers)
}

/// `(host, port, path_and_query)` of an `http://` URL.
fn split_url(url: &str) -> Result<(String, u16, String), MockError> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| MockError::Delivery(format!("only http:// callback URLs are supported, got {url}")))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (host, after) = v6.split_once(']').ok_or_else(|| MockError::Delivery(format!("bad IPv6 host in {url}")))?;
        (host, after.strip_prefix(':'))
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    let port = match port {
        Some(p) => p.parse().map_err(|_| MockError::Delivery(format!("bad port in {url}")))?,
        None => 80,
    };
    if host.is_empty() {
        return Err(MockError::Delivery(format!("no host in {url}")));
    }
    Ok((host.to_owned(), port, path.to_owned()))
}

/// POSTs a notification to an `http://` URL and reads the answer.
pub(crate) async fn post(url: &str, notification: &Notification) -> Result<Delivered, MockError> {
    post_raw(url, &notification.headers, notification.body.clone()).await
}

/// POSTs a body with these headers to an `http://` URL and reads the answer (APIv2 callbacks are XML).
pub(crate) async fn post_raw(url: &str, headers: &[(String, String)], body: Vec<u8>) -> Result<Delivered, MockError> {
    let (host, port, path) = split_url(url)?;
    let authority = if host.contains(':') { format!("[{host}]:{port}") } else { format!("{host}:{port}") };
    let fail = |what: &str, e: &dyn std::fmt::Display| MockError::Delivery(format!("{what} {url}: {e}"));
    let exchange = async {
        let stream =
            tokio::net::TcpStream::connect((host.as_str(), port)).await.map_err(|e| fail("connecting to", &e))?;
        // Header names as WeChat Pay writes them (`Wechatpay-Signature`), for handlers that look them up by case.
        let (mut sender, conn) = hyper::client::conn::http1::Builder::new()
            .title_case_headers(true)
            .handshake(TokioIo::new(stream))
            .await
            .map_err(|e| fail("handshake with", &e))?;
        tokio::spawn(async move {
            // The connection ends when the exchange is over; its error, if any, shows in send_request.
            let _ = conn.await;
        });
        let mut builder = hyper::Request::builder()
            .method("POST")
            .uri(path.as_str())
            .header("Host", authority.as_str())
            .header("User-Agent", "Mozilla/4.0 (wechatpay-mock)");
        for (name, value) in headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        let request = builder.body(Full::new(Bytes::from(body))).map_err(|e| fail("building the request to", &e))?;
        let response = sender.send_request(request).await.map_err(|e| fail("posting to", &e))?;
        let status = response.status().as_u16();
        let body =
            response.into_body().collect().await.map_err(|e| fail("reading the answer of", &e))?.to_bytes().to_vec();
        Ok(Delivered { status, body })
    };
    tokio::time::timeout(DELIVERY_TIMEOUT, exchange)
        .await
        .map_err(|_| MockError::Delivery(format!("{url} did not answer within {DELIVERY_TIMEOUT:?}")))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_urls() {
        assert_eq!(
            split_url("http://127.0.0.1:8080/notify?x=1").ok(),
            Some(("127.0.0.1".into(), 8080, "/notify?x=1".into()))
        );
        assert_eq!(split_url("http://[::1]:9/").ok(), Some(("::1".into(), 9, "/".into())));
        assert_eq!(split_url("http://example.com").ok(), Some(("example.com".into(), 80, "/".into())));
        assert!(split_url("https://example.com/").is_err());
        assert!(split_url("http://:80/").is_err());
    }

    #[test]
    fn acknowledgement_rules() {
        let d = |status, body: &str| Delivered { status, body: body.as_bytes().to_vec() };
        assert!(d(204, "").acknowledged());
        assert!(d(200, r#"{"code":"SUCCESS"}"#).acknowledged());
        assert!(d(200, "").acknowledged());
        assert!(!d(200, r#"{"code":"FAIL"}"#).acknowledged());
        assert!(!d(500, "").acknowledged());
    }
}
