//! What each fuzz target does with its input, and what must hold whatever the input: no panic, no stack overflow,
//! no hang (libFuzzer finds those), and the invariants asserted here. The same functions run every committed
//! corpus file as an ordinary test on stable Rust (`tests/fuzz_corpora.rs` includes this file), so what the
//! fuzzer found stays covered without nightly.
//!
//! Only the public API is used, and `wechatpay::__fuzz` for the steps the public API reaches through the network.
#![forbid(unsafe_code)]

use std::borrow::Cow;
use std::sync::LazyLock;
use std::time::Duration;

use serde_json::Value;
use wechatpay::crypto::{KeyType, PrivateKey, PublicKey, Rsa};
use wechatpay::header::{HeaderMap, HeaderName, HeaderValue};
use wechatpay::{
    Builder, Config, Method, NotificationParser, Options, PlatformKeys, Transformer, UriTemplate, VerificationFailure,
    Verifier, XmlNotification,
};

/// A base URI with a path prefix, so that climbing above it shows.
const BASE: &str = "https://api.mch.weixin.qq.com/hk/";
const APIV2_KEY: &str = "192006250b4c09247ec02edce69f6a2d";
const APIV3_KEY: &str = "a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb";
const PUBLIC_KEY_ID: &str = "PUB_KEY_ID_0114232134912410000000000000000";

/// One Builder for every run: the fixture keys, any clock skew accepted (a fuzzer cannot guess the time).
static INSTANCE: LazyLock<Builder> = LazyLock::new(|| {
    let config = Config::builder()
        .mchid("1900000001")
        .serial("5F1C72E2A8931B72A2E13AF8DEE92471EB397115")
        .private_key(PrivateKey::from_pem(include_str!("../../tests/fixtures/merchant_private_key.pem")).unwrap())
        .public_key(PUBLIC_KEY_ID, public_key())
        .secret(APIV2_KEY)
        .apiv3_key(APIV3_KEY)
        .max_clock_skew(Duration::from_secs(u64::MAX))
        .base_uri(BASE);
    Builder::factory(config).expect("the fuzzing Builder")
});

fn public_key() -> PublicKey {
    PublicKey::from_pem(include_str!("../../tests/fixtures/wechat_pay_public_key.pem")).unwrap()
}

/// Accepts every signature, so that what comes after the signature check is reached too.
struct AcceptAll;

impl Verifier for AcceptAll {
    fn verify(&self, _: &str, _: &[u8], _: &str) -> Result<(), VerificationFailure> {
        Ok(())
    }
}

/// A URL the SDK would send to must stay below the base URI, with no segment that URL parsing would resolve.
fn assert_below_base(url: &str) {
    assert!(url.starts_with(BASE), "{url} left {BASE}");
    let path = url.split(['?', '#']).next().unwrap_or_default();
    for segment in path.split('/') {
        assert!(segment != "." && segment != "..", "{url} has a dot segment");
    }
    assert!(!url.contains('#') && !url.contains('\\'), "{url}");
}

/// What `url()` returns is also short enough to send (a template expansion alone has no length limit).
fn assert_sendable(url: &str) {
    assert_below_base(url);
    assert!(url.len() <= BASE.len() + 8 * 1024, "{} bytes", url.len());
}

/// An error's Display: bounded, on one line where it quotes the network.
fn assert_presentable(err: &wechatpay::Error) {
    let shown = err.to_string();
    assert!(shown.len() < 16 * 1024, "a {} byte message", shown.len());
}

/// Target `template`: a URI template (first line) expanded with a PHP-style options array (the rest, as JSON),
/// through `UriTemplate` and through a chain node's `url()`.
pub fn template(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let (source, options) = text.split_once('\n').unwrap_or((&text, ""));
    let options: Option<Value> = serde_json::from_str(options).ok();
    if let Ok(parsed) = UriTemplate::parse(source) {
        let lookup = |name: &str| -> Option<Cow<'_, str>> {
            match options.as_ref()?.get(name)? {
                Value::String(text) => Some(Cow::Borrowed(text.as_str())),
                Value::Number(number) => Some(Cow::Owned(number.to_string())),
                _ => None,
            }
        };
        if let Ok(path) = parsed.expand(lookup) {
            assert_below_base(&format!("{BASE}{path}"));
        }
    }
    let Some(options) = options else { return };
    let _ = Options::from_value(&options);
    match INSTANCE.verbatim(source).url(&options) {
        Ok(url) => assert_sendable(&url),
        Err(err) => assert_presentable(&err),
    }
}

/// Target `chain_keys`: a key given to `chain()`, to an index and to `verbatim()`, at the root and below `v3`, with
/// every variable it names given.
pub fn chain_keys(data: &[u8]) {
    let key = String::from_utf8_lossy(data);
    // A clone has its own (empty) cache of indexed children: indexing the shared root with every input would grow
    // its cache without end.
    let instance = INSTANCE.clone();
    let indexed = &instance[&*key];
    assert_eq!(indexed.template(), instance.chain(&key).template(), "index and chain normalise alike");
    for node in [instance.chain(&key), indexed.clone(), instance.verbatim(&key), instance.v3().chain(&key)] {
        let mut options = serde_json::Map::new();
        if let Ok(template) = UriTemplate::parse(node.template()) {
            for name in template.variables() {
                options.insert(name.to_owned(), Value::from("v"));
            }
        }
        if node.template().starts_with("v2") {
            options.insert("xml".into(), serde_json::json!({"mch_id": "1900000001"}));
        }
        match node.url(Value::Object(options)) {
            Ok(url) => assert_sendable(&url),
            Err(err) => assert_presentable(&err),
        }
    }
}

/// A message read from fuzzer input: headers (as a map and as pairs), then the body.
struct Message<'a> {
    headers: HeaderMap,
    pairs: Vec<(String, Vec<u8>)>,
    body: &'a [u8],
}

/// Headers ("Name: value" lines) up to an empty line, then the body.
fn head_and_body(data: &[u8]) -> Message<'_> {
    let split = data.windows(2).position(|pair| pair == b"\n\n");
    let (head, body) = match split {
        Some(at) => (&data[..at], &data[at + 2..]),
        None => (data, &data[data.len()..]),
    };
    let mut headers = HeaderMap::new();
    let mut pairs = Vec::new();
    for line in head.split(|b| *b == b'\n') {
        let Some(colon) = line.iter().position(|b| *b == b':') else { continue };
        let (name, value) = (&line[..colon], line[colon + 1..].trim_ascii());
        pairs.push((String::from_utf8_lossy(name).into_owned(), value.to_vec()));
        if let (Ok(name), Ok(value)) = (HeaderName::from_bytes(name), HeaderValue::from_bytes(value)) {
            headers.append(name, value);
        }
    }
    Message { headers, pairs, body }
}

/// Target `answers`: an APIv3 answer (method and path on the first line, then headers and body) verified as the
/// client verifies answers, with the real keys and with a verifier that accepts any signature; and the same body
/// as an error answer.
pub fn answers(data: &[u8]) {
    let split = data.iter().position(|b| *b == b'\n').unwrap_or(data.len());
    let first = String::from_utf8_lossy(&data[..split]);
    let (method, path) = first.split_once(' ').unwrap_or(("GET", &first));
    let method = Method::from_bytes(method.as_bytes()).unwrap_or(Method::GET);
    let Message { headers, body, .. } = head_and_body(data.get(split + 1..).unwrap_or_default());
    let keys = PlatformKeys::new();
    keys.insert(PUBLIC_KEY_ID, public_key());
    let _ = wechatpay::__fuzz::verify_answer(&INSTANCE, &method, path, &headers, body, &keys);
    let accepted = wechatpay::__fuzz::verify_answer(&INSTANCE, &method, path, &headers, body, &AcceptAll);
    if let Ok(Some(serial)) = accepted {
        assert_eq!(headers.get_all("Wechatpay-Serial").iter().count(), 1, "{serial}");
    }
    let status = 400 + (body.len() % 200) as u16;
    let err = wechatpay::__fuzz::api_error(status, body);
    let shown = err.to_string();
    assert!(!shown.contains(|c: char| c.is_control()), "{shown:?}");
    assert!(shown.len() < 2048, "{} bytes", shown.len());
}

/// Target `notification`: a v3 callback (headers, then body) parsed with a verifier that accepts any signature,
/// and the body as APIv2 callbacks (signed, and a refund's `req_info`).
pub fn notification(data: &[u8]) {
    let Message { headers, pairs, body } = head_and_body(data);
    let parser = NotificationParser::new(AcceptAll, APIV3_KEY)
        .expect("the APIv3 key")
        .max_clock_skew(Duration::from_secs(u64::MAX))
        .replay_guard(wechatpay::ReplayGuard::new(4));
    for parsed in [parser.parse::<Value, _>(&headers, body), parser.parse::<Value, _>(&pairs, body)] {
        if let Err(err) = parsed {
            let answer = err.answer();
            assert!(!answer.is_success() || matches!(err, wechatpay::NotificationError::Duplicate { .. }));
            serde_json::from_str::<Value>(answer.body()).expect("a JSON answer");
        }
    }
    if let Ok(notification) = XmlNotification::verify(body, APIV2_KEY) {
        let _ = notification.deserialize::<Value>();
    }
    if let Ok(refund) = XmlNotification::decrypt_refund(body, APIV2_KEY) {
        let _ = refund.deserialize::<Value>();
    }
    let fail = XmlNotification::fail(&String::from_utf8_lossy(body));
    Transformer::to_array(&fail).expect("a FAIL answer is XML");
}

/// Target `apiv2_xml`: an APIv2 answer read by `Transformer` (and written back when it is flat text), and checked
/// as the XML transport checks answers of a signed endpoint, an unsigned one and a bill download.
pub fn apiv2_xml(data: &[u8]) {
    if let Ok(fields) = Transformer::to_array(data) {
        let _ = Transformer::from_xml::<Value>(data);
        let _ = Transformer::from_xml::<std::collections::BTreeMap<String, String>>(data);
        if fields.values().all(Value::is_string) {
            if let Ok(xml) = Transformer::to_xml(&fields) {
                assert_eq!(Transformer::to_array(&xml).expect("what was written reads back"), fields);
            }
        }
    }
    for path in ["pay/orderquery", "mmpaymkttransfers/sendredpack", "pay/downloadbill"] {
        if let Err(err) = wechatpay::__fuzz::check_apiv2_answer(path, data, APIV2_KEY) {
            assert_presentable(&err);
        }
    }
}

/// Target `keys`: input given to every key and certificate loader (PEM, DER, prefixed base64, encrypted PKCS#8).
/// No error may quote the input's base64.
pub fn keys(data: &[u8]) {
    if data.trim_ascii_start().starts_with(b"file://") {
        return; // Paths are the file system's business, not the parser's.
    }
    let text = String::from_utf8_lossy(data);
    let mut errors = Vec::new();
    let mut collect = |result: Result<(), wechatpay::Error>| {
        if let Err(err) = result {
            errors.push(format!("{err} {err:?}"));
        }
    };
    collect(PrivateKey::load(data).map(drop));
    collect(PublicKey::load(data).map(drop));
    collect(wechatpay::crypto::Certificate::load(data).map(drop));
    collect(PrivateKey::from_der(data).map(drop));
    collect(PublicKey::from_der(data).map(drop));
    collect(wechatpay::crypto::Certificate::from_der(data).map(drop));
    collect(PrivateKey::from_pem_with_passphrase(&text, "wechatpay").map(drop));
    collect(Rsa::from_pkcs8(&text).map(drop));
    collect(Rsa::from_spki(&text).map(drop));
    collect(Rsa::from_pkcs1(&text, KeyType::Private).map(drop));
    collect(Rsa::from_pkcs1(&text, KeyType::Public).map(drop));
    for run in base64_runs(&text) {
        for message in &errors {
            assert!(!message.contains(run), "an error quotes the input: {message}");
        }
    }
}

/// The runs of base64 characters of 24 or more with both cases in `text`: key material an error must not quote
/// (PEM labels, which errors name, are upper case).
fn base64_runs(text: &str) -> Vec<&str> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '+' || c == '/' || c == '='))
        .filter(|run| {
            run.len() >= 24
                && run.bytes().any(|b| b.is_ascii_lowercase())
                && run.bytes().any(|b| b.is_ascii_uppercase())
        })
        .collect()
}
