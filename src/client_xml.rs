//! The APIv2 (XML) transport, the PHP SDK's `ClientXmlTrait`: every `v2/...` path comes here with the prefix
//! stripped. The payload (`xml`) is checked against the configured mchid, given a `nonce_str`, signed with the APIv2
//! key (MD5, or HMAC-SHA256 when `sign_type` says so) and sent as flat XML (as the query of the few GET endpoints).
//! `security` requests go through a second connection pool that presents the merchant certificate (mutual TLS).
//! Answers are parsed without DOCTYPE or entities, `FAIL` becomes [`Error::ApiV2`], and `sign` is verified in
//! constant time, except on the endpoints WeChat Pay answers unsigned (the PHP SDK's list).

use std::sync::Arc;

use bytes::Bytes;
use reqwest::Method;
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderMap, HeaderValue};
use serde_json::{Map, Value};
use url::Url;
use zeroize::Zeroizing;

use crate::client::{Core, Prepared, RequestBody, add_headers, check_url, http_client, status_error};
use crate::crypto::{Hash, pem_encode};
use crate::error::{ApiV2Failure, Error, Result, VerificationFailure};
use crate::formatter::Formatter;
use crate::options::Options;
use crate::response::Response;
use crate::template::{UriTemplate, encode_component};
use crate::transformer::{Transformer, text_of};
use crate::util::json;

/// What PHP's `ClientXmlTrait` sends as `Accept`: XML answers, plain-text bills, gzip bills.
const ACCEPTED: &str = "text/xml, text/plain, application/x-gzip";

/// The endpoints WeChat Pay answers without `sign`, as the PHP SDK lists them (relative to the base URI). Bill
/// downloads answer a file (text or gzip), not XML, when they succeed.
const UNSIGNED: [&str; 26] = [
    "mchrisk/querymchrisk",
    "mchrisk/setmchriskcallback",
    "mchrisk/syncmchriskresult",
    "mmpaymkttransfers/gethbinfo",
    "mmpaymkttransfers/gettransferinfo",
    "mmpaymkttransfers/pay_bank",
    "mmpaymkttransfers/promotion/paywwsptrans2pocket",
    "mmpaymkttransfers/promotion/querywwsptrans2pocket",
    "mmpaymkttransfers/promotion/transfers",
    "mmpaymkttransfers/query_bank",
    "mmpaymkttransfers/sendgroupredpack",
    "mmpaymkttransfers/sendminiprogramhb",
    "mmpaymkttransfers/sendredpack",
    "papay/entrustweb",
    "papay/h5entrustweb",
    "papay/partner/entrustweb",
    "papay/partner/h5entrustweb",
    "pay/downloadbill",
    "pay/downloadfundflow",
    "payitil/report",
    "risk/getpublickey",
    "risk/getviolation",
    "sandboxnew/pay/downloadbill",
    "sandboxnew/pay/getsignkey",
    "secapi/mch/submchmanage",
    "xdc/apiv2getsignkey/sign/getsignkey",
];

/// The fields that name the merchant in a payload, in the order PHP looks for them.
const MCHID_FIELDS: [&str; 3] = ["mch_id", "mchid", "combine_mch_id"];

/// What an APIv2 request needs once sent.
#[derive(Debug, Clone)]
pub(crate) struct XmlExchange {
    /// The path below the base URI, e.g. `pay/orderquery`.
    path: String,
    /// Whether to present the merchant certificate.
    security: bool,
}

/// Whether a template is an APIv2 one: `v2` or `v2/...` (in any case, as PHP compares it).
pub(crate) fn is_apiv2(template: &str) -> bool {
    template.eq_ignore_ascii_case("v2") || template.get(..3).is_some_and(|prefix| prefix.eq_ignore_ascii_case("v2/"))
}

impl Core {
    /// Checks, signs and serialises an APIv2 request.
    pub(crate) fn prepare_xml(&self, method: Method, template: &UriTemplate, options: Options) -> Result<Prepared> {
        for (name, given) in [
            ("json", options.json.is_some()),
            ("body", options.body.is_some()),
            ("query", !options.query.is_empty()),
            ("encrypt_fields", !options.encrypt.is_empty()),
        ] {
            if given {
                return Err(Error::options(format!(
                    "`{name}` is an APIv3 option, and {} is an APIv2 path: give the payload as `xml`",
                    template.as_str()
                )));
            }
        }
        let secret = self.config.secret.as_ref().filter(|secret| !secret.0.is_empty()).ok_or_else(|| {
            Error::config(
                "secret",
                "APIv2 requests are signed with the APIv2 key: configure it (ConfigBuilder::secret)",
            )
        })?;
        if options.security && self.config.merchant_tls.is_none() {
            return Err(Error::config(
                "merchant",
                "a `security` request presents the merchant certificate: configure {cert, key} \
                 (apiclient_cert.pem and apiclient_key.pem; ConfigBuilder::merchant_tls)",
            ));
        }
        let expanded = template.expand(|name| options.variable(name))?;
        let path = expanded.get(3..).unwrap_or_default().to_owned();

        let mut data = options.xml.unwrap_or_default();
        if data.values().any(|value| json::deeper_than(value, json::MAX_DEPTH)) {
            json::dismantle(Value::Object(data));
            return Err(Error::options(json::too_deep_reason("the xml payload")));
        }
        self.check_mchid(&data)?;
        let sign_type = match data.get("sign_type") {
            None | Some(Value::Null) => Hash::ALGO_MD5,
            Some(Value::String(kind)) if kind == Hash::ALGO_MD5 => Hash::ALGO_MD5,
            Some(Value::String(kind)) if kind == Hash::ALGO_HMAC_SHA256 => Hash::ALGO_HMAC_SHA256,
            Some(other) => {
                return Err(Error::options(format!("`xml.sign_type` is {other}: it must be MD5 or HMAC-SHA256")));
            }
        };
        if !options.nonceless && data.get("nonce_str").is_none_or(Value::is_null) {
            data.insert("nonce_str".into(), Value::String(Formatter::nonce32()?));
        }
        data.remove("sign");
        let sign = sign_fields(&data, sign_type, &secret.0);
        data.insert("sign".into(), Value::String(sign));

        let base = match &options.base_uri {
            Some(base) => parse_base_uri(base, self.config.allow_plain_http)?,
            None => self.config.base_uri.clone(),
        };
        let mut target = format!("{base}{}", path.trim_start_matches('/'));
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT, HeaderValue::from_static(ACCEPTED));
        let body = if method == Method::GET {
            // The GET endpoints (contract signing pages) take the signed payload as the query string.
            let mut separator = if target.contains('?') { '&' } else { '?' };
            for (name, value) in Formatter::ksort(data.iter()) {
                let Some(text) = text_of(value) else { continue };
                target.push(separator);
                separator = '&';
                encode_component(&mut target, name);
                target.push('=');
                encode_component(&mut target, &text);
            }
            None
        } else {
            headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/xml; charset=utf-8"));
            let xml = Transformer::to_xml(&data).map_err(|err| match err {
                Error::InvalidArgument { reason, .. } => Error::options(format!("the xml payload: {reason}")),
                other => other,
            })?;
            Some(RequestBody::Bytes(Bytes::from(xml)))
        };
        let url = Url::parse(&target).map_err(|err| {
            let shown = crate::error::abbreviate(&target);
            Error::template(template.as_str(), format!("{shown} is not a URL: {err}"))
        })?;
        check_url(&url, &base, template.as_str())?;
        add_headers(&mut headers, &options.headers)?;
        Ok(Prepared {
            method,
            url,
            headers,
            body,
            signed_body: Bytes::new(),
            timeout: Some(self.request_timeout(options.timeout)?),
            xml: Some(XmlExchange { path, security: options.security }),
            handling: options.handling,
        })
    }

    /// As PHP: the payload must name this merchant (`mch_id`, else `mchid`, else `combine_mch_id`).
    fn check_mchid(&self, data: &Map<String, Value>) -> Result<()> {
        let mchid = &self.config.mchid;
        let named = MCHID_FIELDS
            .iter()
            .find_map(|field| data.get(*field).filter(|value| !value.is_null()).map(|value| (*field, text_of(value))));
        match named {
            Some((_, Some(given))) if given == mchid.as_str() => Ok(()),
            Some((field, given)) => Err(Error::options(format!(
                "the xml payload's {field} is {:?}, but this client is configured for mchid {mchid}: a payload is \
                 signed for one merchant only",
                given.unwrap_or_default()
            ))),
            None => Err(Error::options(format!(
                "the xml payload names no merchant: add \"mch_id\": \"{mchid}\" (or mchid / combine_mch_id, as the \
                 endpoint calls it)"
            ))),
        }
    }

    /// The pool that presents the merchant certificate, made once.
    fn mutual_tls(&self) -> Result<&reqwest::Client> {
        if let Some(client) = self.mutual_tls.get() {
            return Ok(client);
        }
        let Some((certificate, key)) = &self.config.merchant_tls else {
            return Err(Error::config("merchant", "a `security` request needs the merchant certificate and key"));
        };
        let mut pem = Zeroizing::new(certificate.to_pem());
        pem.push_str(&Zeroizing::new(pem_encode("PRIVATE KEY", &key.to_pkcs8_der())));
        let identity = reqwest::Identity::from_pem(pem.as_bytes()).map_err(|err| {
            Error::config("merchant", format!("the certificate and key cannot be used for TLS: {err}"))
        })?;
        let client = http_client(&self.config)
            .identity(identity)
            .build()
            .map_err(|err| Error::config("merchant", format!("the mutual-TLS HTTP client cannot be built: {err}")))?;
        // Two first `security` requests may race: both clients work, one is kept.
        Ok(self.mutual_tls.get_or_init(|| client))
    }

    /// Sends an APIv2 request and checks its answer.
    pub(crate) async fn execute_xml(self: Arc<Self>, prepared: Prepared, exchange: XmlExchange) -> Result<Response> {
        let Prepared { method, url, headers, body, timeout, handling, .. } = prepared;
        let http = if exchange.security { self.mutual_tls()? } else { self.http()? };
        if handling.debug {
            let shown = match &body {
                Some(RequestBody::Bytes(bytes)) => crate::debug::SentBody::Xml(bytes),
                _ => crate::debug::SentBody::None,
            };
            crate::debug::request(&method, &url, &headers, shown);
        }
        let mut request = http.request(method.clone(), url.clone()).headers(headers);
        match body {
            Some(RequestBody::Bytes(bytes)) => request = request.body(bytes),
            // prepare_xml makes XML bodies only.
            Some(RequestBody::Media(_)) => {
                return Err(Error::options("an APIv2 request sends its `xml` payload, never a media upload"));
            }
            None => {}
        }
        if let Some(timeout) = timeout {
            request = request.timeout(timeout);
        }
        let transport = |err: reqwest::Error| self.transport_error(&method, &url, timeout, err);
        let mut response = request.send().await.map_err(transport)?;
        let status = response.status();
        let headers = std::mem::take(response.headers_mut());
        let body = self.read_answer(&method, &url, timeout, status, !handling.http_errors, &mut response).await?;
        let request_id = headers.get("Request-ID").and_then(|value| value.to_str().ok()).map(str::to_owned);
        if handling.debug {
            crate::debug::answer(&method, &url, status, &headers, &body);
        }
        if !status.is_success() {
            if handling.http_errors || status.is_redirection() {
                return Err(status_error(&method, &url, status, &headers, body));
            }
            // APIv2 signs its XML, never an HTTP error: the answer is passed on as it came.
            return Ok(Response::new(status, headers, body, None).with_url(url));
        }
        let secret = self.config.secret.as_ref().map(|secret| secret.0.as_str()).unwrap_or_default();
        let verified_by = check_answer(&exchange.path, &body, secret).map_err(|err| match err {
            Checked::Failed(err) => err,
            Checked::Unverified(failure) => {
                Error::Verification { method: method.to_string(), path: url.path().to_owned(), failure, request_id }
            }
        })?;
        Ok(Response::new(status, headers, body, verified_by.map(str::to_owned)).with_url(url))
    }
}

/// Why an answer is not accepted.
/// [`check_answer`] for `wechatpay::__fuzz`.
pub(crate) fn check_answer_for_fuzzing(path: &str, body: &[u8], secret: &str) -> Result<Option<&'static str>> {
    check_answer(path, &Bytes::copy_from_slice(body), secret).map_err(|checked| match checked {
        Checked::Failed(err) => err,
        Checked::Unverified(failure) => {
            Error::Verification { method: "POST".into(), path: path.to_owned(), failure, request_id: None }
        }
    })
}

enum Checked {
    Failed(Error),
    Unverified(VerificationFailure),
}

/// Parses an answer: `FAIL` is an error, `sign` must verify (except where WeChat Pay does not sign). Returns the
/// sign type that verified it.
fn check_answer(path: &str, body: &Bytes, secret: &str) -> std::result::Result<Option<&'static str>, Checked> {
    let unsigned = UNSIGNED.contains(&path);
    if unsigned && !looks_like_xml(body) {
        // A bill file (text or gzip): WeChat Pay answers XML only when the download failed.
        return Ok(None);
    }
    let fields = Transformer::to_array(body).map_err(|err| {
        let reason = match err {
            Error::Decode { reason, .. } => reason,
            other => other.to_string(),
        };
        Checked::Failed(Error::Decode {
            what: "an APIv2 XML answer",
            reason: format!("{reason}; the answer starts with {:?}", snippet(body)),
        })
    })?;
    check_unrepeated(&fields, "an APIv2 XML answer").map_err(Checked::Failed)?;
    let Some(return_code) = fields.get("return_code").and_then(Value::as_str) else {
        return Err(Checked::Failed(Error::Decode {
            what: "an APIv2 XML answer",
            reason: format!("it has no return_code, so it is not from WeChat Pay; it starts with {:?}", snippet(body)),
        }));
    };
    if return_code != "SUCCESS" {
        return Err(Checked::Failed(Error::ApiV2(Box::new(ApiV2Failure::new(path, fields, body.clone())))));
    }
    let verified_by =
        if unsigned { None } else { Some(verify_sign(&fields, None, secret).map_err(Checked::Unverified)?) };
    if fields.get("result_code").and_then(Value::as_str).is_some_and(|result| result != "SUCCESS") {
        return Err(Checked::Failed(Error::ApiV2(Box::new(ApiV2Failure::new(path, fields, body.clone())))));
    }
    Ok(verified_by)
}

/// The APIv2 sign of `fields` (the sorted `k=v&...` string without `sign` and empty values, then the key).
/// The fields that decide what an APIv2 message means and whether it is authentic.
const DECIDING_FIELDS: [&str; 6] = ["return_code", "result_code", "err_code", "sign", "sign_type", "req_info"];

/// Refuses a message in which a deciding field appears more than once (read as an array): which one holds would be
/// ambiguous, and a check reading one of them could pass while the other says otherwise.
pub(crate) fn check_unrepeated(fields: &Map<String, Value>, what: &'static str) -> Result<()> {
    match DECIDING_FIELDS.iter().find(|name| fields.get(**name).is_some_and(Value::is_array)) {
        Some(name) => Err(Error::Decode {
            what,
            reason: format!(
                "it has <{name}> more than once, which WeChat Pay never sends: which one holds is ambiguous"
            ),
        }),
        None => Ok(()),
    }
}

pub(crate) fn sign_fields(fields: &Map<String, Value>, sign_type: &str, secret: &str) -> String {
    let data = Formatter::query_string_like(Formatter::ksort(fields.iter()));
    // Only MD5 and HMAC-SHA256 reach here, and Hash::sign fails for nothing else.
    Hash::sign(sign_type, &data, secret).unwrap_or_default()
}

/// Verifies `sign` in constant time. The sign type is `sign_type` when known, else told by the sign's length
/// (64 hex characters: HMAC-SHA256, else MD5), as the PHP SDK tells it.
pub(crate) fn verify_sign(
    fields: &Map<String, Value>,
    sign_type: Option<&str>,
    secret: &str,
) -> std::result::Result<&'static str, VerificationFailure> {
    let sign = fields
        .get("sign")
        .and_then(Value::as_str)
        .filter(|sign| !sign.is_empty())
        .ok_or(VerificationFailure::MissingSign)?;
    let sign_type = match sign_type {
        Some(Hash::ALGO_HMAC_SHA256) => Hash::ALGO_HMAC_SHA256,
        Some(_) => Hash::ALGO_MD5,
        None if sign.len() == 64 => Hash::ALGO_HMAC_SHA256,
        None => Hash::ALGO_MD5,
    };
    if Hash::equals(&sign_fields(fields, sign_type, secret), sign) {
        Ok(sign_type)
    } else {
        Err(VerificationFailure::SignMismatch)
    }
}

fn parse_base_uri(base: &str, allow_plain_http: bool) -> Result<Url> {
    let mut url = Url::parse(base).map_err(|err| Error::options(format!("`base_uri` {base:?} is not a URL: {err}")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(Error::options(format!("`base_uri` {base:?} must be an http:// or https:// URL with a host")));
    }
    crate::config::check_plain_http(&url, allow_plain_http)
        .map_err(|reason| Error::options(format!("`base_uri`: {reason}")))?;
    if !url.username().is_empty() || url.password().is_some() || url.query().is_some() || url.fragment().is_some() {
        return Err(Error::options("`base_uri` must not carry credentials, a query or a fragment"));
    }
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    if let Some(version) = crate::config::version_in_path(&url) {
        return Err(Error::options(format!(
            "`base_uri` {base:?} holds the version segment `{version}`: APIv2 paths carry no version on the wire \
             (the chain's `v2/` only selects the XML client), so give the host alone, e.g. \
             \"https://fraud.mch.weixin.qq.com/\""
        )));
    }
    Ok(url)
}

fn looks_like_xml(body: &[u8]) -> bool {
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'<')
}

fn snippet(body: &[u8]) -> String {
    String::from_utf8_lossy(&body[..body.len().min(120)]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const KEY: &str = "192006250b4c09247ec02edce69f6a2d";

    fn vector() -> Map<String, Value> {
        json!({"appid": "wxd930ea5d5a258f4f", "mch_id": "10000100", "device_info": "1000", "body": "test",
               "nonce_str": "ibuaiVcKdpRxkhJA"})
        .as_object()
        .cloned()
        .unwrap()
    }

    #[test]
    fn official_sign_vectors() {
        assert_eq!(sign_fields(&vector(), Hash::ALGO_MD5, KEY), "9A0A8659F005D6984697E2CA0A9CF3B7");
        assert_eq!(
            sign_fields(&vector(), Hash::ALGO_HMAC_SHA256, KEY),
            "6A9AE1657590FD6257D693A078E1C3E4BB6BA4DC30B23E0EE2496E54170DACD6"
        );
        let mut signed = vector();
        signed.insert("sign".into(), "9A0A8659F005D6984697E2CA0A9CF3B7".into());
        assert_eq!(verify_sign(&signed, None, KEY), Ok(Hash::ALGO_MD5));
        signed.insert("sign".into(), "6A9AE1657590FD6257D693A078E1C3E4BB6BA4DC30B23E0EE2496E54170DACD6".into());
        assert_eq!(verify_sign(&signed, None, KEY), Ok(Hash::ALGO_HMAC_SHA256));
        signed.insert("body".into(), "tesT".into());
        assert_eq!(verify_sign(&signed, None, KEY), Err(VerificationFailure::SignMismatch));
        signed.remove("sign");
        assert_eq!(verify_sign(&signed, None, KEY), Err(VerificationFailure::MissingSign));
    }

    #[test]
    fn apiv2_paths_are_told_as_php_tells_them() {
        for path in ["v2", "v2/pay/micropay", "V2/pay/micropay"] {
            assert!(is_apiv2(path), "{path}");
        }
        for path in ["v3/pay", "v2x/pay", "", "v"] {
            assert!(!is_apiv2(path), "{path}");
        }
    }

    #[test]
    fn bills_pass_and_failures_are_typed() {
        let bill = Bytes::from_static("交易时间,公众账号ID\r\n".as_bytes());
        assert!(matches!(check_answer("pay/downloadbill", &bill, KEY), Ok(None)));
        let gzip = Bytes::from_static(b"\x1f\x8b\x08\x00");
        assert!(matches!(check_answer("pay/downloadbill", &gzip, KEY), Ok(None)));
        let fail =
            Bytes::from_static(b"<xml><return_code>FAIL</return_code><return_msg>No Bill Exist</return_msg></xml>");
        let Err(Checked::Failed(Error::ApiV2(failure))) = check_answer("pay/downloadbill", &fail, KEY) else {
            panic!("a FAIL answer is an ApiV2 error");
        };
        assert_eq!(failure.return_msg.as_deref(), Some("No Bill Exist"));
        let html = Bytes::from_static(b"<html><body><h1>404 Not Found</h1><hr><center>nginx</center></body></html>");
        assert!(matches!(check_answer("pay/orderquery", &html, KEY), Err(Checked::Failed(Error::Decode { .. }))));
        let well_formed_html = Bytes::from_static(b"<html><body>404</body></html>");
        let Err(Checked::Failed(err)) = check_answer("pay/orderquery", &well_formed_html, KEY) else { panic!() };
        assert!(err.to_string().contains("no return_code"), "{err}");
        let unsigned = Bytes::from_static(b"<xml><return_code>SUCCESS</return_code></xml>");
        assert!(matches!(
            check_answer("pay/orderquery", &unsigned, KEY),
            Err(Checked::Unverified(VerificationFailure::MissingSign))
        ));
        assert!(matches!(check_answer("mmpaymkttransfers/sendredpack", &unsigned, KEY), Ok(None)));
    }
}
