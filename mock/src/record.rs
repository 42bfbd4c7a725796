//! Recordings of what clients sent, for the port check: run the PHP application's tests against
//! `wechatpay-mock --record php.jsonl`, the Rust port's against `--record rust.jsonl`, and compare the two with
//! `wechatpay port-diff php.jsonl rust.jsonl` (the `wechatpay` command-line tool).
//!
//! With [`ServerBuilder::record`](crate::ServerBuilder::record) (the binary's `--record FILE`) every request the
//! server receives, on the plain and on the mutual-TLS listener, also those that fail its checks or meet a fault,
//! becomes one line of JSON in the file, appended once the request has been answered, with a single write: a
//! crash of the simulator loses at most the line being written, and the file can be read while the tests run. The
//! file is emptied when the server starts.
//!
//! # The line format, version 1
//!
//! Each line is one JSON object. Readers must check `format` and ignore members they do not know (later
//! versions of format 1 may add some; a change of meaning gets a new `format`).
//!
//! | member | what |
//! | --- | --- |
//! | `format` | `1` ([`FORMAT`]) |
//! | `seq` | 1, 2, 3, ...: the order in which requests were answered |
//! | `api` | `"v3"` (JSON, `Authorization` header) or `"v2"` (XML, `sign` field): `"v2"` for a `POST` to an APIv2 path |
//! | `transport` | `"http"` (the plain listener) or `"mutual-tls"` (the listener that asks for the merchant certificate) |
//! | `method` | `"GET"`, `"POST"`, ... |
//! | `path` | the path as sent, still percent-encoded, without the query |
//! | `template` | the catalog's template when the path matches one (`/v3/pay/transactions/out-trade-no/{out_trade_no}`), else the path itself; with `method`, what `port-diff --unordered` pairs calls by |
//! | `params` | the template's placeholders and their percent-decoded values: `{"out_trade_no": "1217752501201407033233368018"}` |
//! | `query` | the query, percent-decoded: `{"name": "value"}`, an array of values for a repeated name |
//! | `headers` | the headers that matter, under these names, when sent: `Wechatpay-Serial`, `Content-Type`, `Accept`, `Accept-Language`, `User-Agent` |
//! | `header_order` | every header name, lower case, in the order received |
//! | `wechatpay_serial` | when `Wechatpay-Serial` was sent, what it names here: `"platform_certificate"`, `"public_key"` or `"unknown"` |
//! | `body` | `null` (none); `{"json": VALUE}`; `{"xml": {"field": "value", ...}}` (APIv2, without `sign` and `nonce_str`); `{"multipart": [PART, ...]}`; or `{"raw": {"length": N, "sha256": HEX, "problem": TEXT}}` for a body that is none of those |
//! | `signature` | `"valid"`, `"invalid"` or `"absent"`. APIv3: the `Authorization` header (merchant, serial, a timestamp within the window, a nonce, the RSA signature over the bytes received; the nonce is not checked for reuse here). APIv2: the `sign` field (MD5 or HMAC-SHA256 with the APIv2 key, as `sign_type` says) |
//! | `signature_problem` | why, when `signature` is `"invalid"` |
//! | `nonce` | APIv2 only: `"present"` or `"absent"` (`nonce_str`) |
//! | `answer` | what the simulator answered: `{"status": 200}`, with `code` and `message` for an error (APIv3 `code`; APIv2 `FAIL` or the `err_code`), or `{"dropped": true}` when a fault closed the connection |
//!
//! A `PART` is `{"name": ..., "filename": ..., "content_type": ..., "length": N, "sha256": HEX}` (`filename` and
//! `content_type` only when the part has them), plus `"json": VALUE` for a `meta` part that is JSON. Nonces,
//! timestamps and signatures are never written, only whether they were there and valid: two recordings of the
//! same calls differ only in `User-Agent`, `Accept`, `header_order` and the answers' state.
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::io::{Read as _, Write as _};
//!
//! let path = std::env::temp_dir().join(format!("record-doc-{}.jsonl", std::process::id()));
//! let server = wechatpay_mock::Server::builder()
//!     .identities(wechatpay_mock::Identities::shared()?)
//!     .record(&path)
//!     .start_blocking()?;
//! let mut http = std::net::TcpStream::connect(server.local_addr())?;
//! http.write_all(b"GET /v3/certificates?algorithm_type=RSA HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")?;
//! let mut answer = String::new();
//! http.read_to_string(&mut answer)?;
//! assert!(answer.starts_with("HTTP/1.1 401")); // not signed
//! // The line is written before the answer is sent.
//! let line: serde_json::Value = serde_json::from_str(std::fs::read_to_string(&path)?.trim_end())?;
//! # std::fs::remove_file(&path)?;
//! assert_eq!(line["format"], wechatpay_mock::record::FORMAT);
//! assert_eq!(line["template"], "/v3/certificates");
//! assert_eq!(line["query"]["algorithm_type"], "RSA");
//! assert_eq!(line["signature"], "absent");
//! assert_eq!(line["answer"]["code"], "SIGN_ERROR");
//! # Ok(()) }
//! ```

use std::fs::File;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde_json::{Map, Value, json};
use sha2::{Digest as _, Sha256};

use crate::auth::{self, SignedRequest};
use crate::catalog::Catalog;
use crate::engine::{Engine, KeyRef, RawRequest, RawResponse};
use crate::multipart::{self, Part};
use crate::reply::header;
use crate::util::{hex_lower, now_secs, parse_query};
use crate::v2::{self, SignType};
use crate::{MockError, v2_endpoints};

/// The version of the line format described above (the `format` member of every line).
pub const FORMAT: u64 = 1;

/// The headers a line keeps, under these names.
const KEPT_HEADERS: [&str; 5] = ["Wechatpay-Serial", "Content-Type", "Accept", "Accept-Language", "User-Agent"];

/// Which listener a request came in on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transport {
    Http,
    MutualTls,
}

/// Appends one line per request to the recording file.
#[derive(Debug)]
pub(crate) struct Recorder {
    path: PathBuf,
    file: Mutex<Appender>,
}

#[derive(Debug)]
struct Appender {
    file: File,
    seq: u64,
    /// Whether a failed write has been reported already (once is enough).
    reported: bool,
}

/// What a request looked like, taken before the engine consumes its parts; completed by its answer.
pub(crate) struct Observed(Map<String, Value>);

impl Recorder {
    /// Creates (or empties) the file, then opens it for appending.
    pub(crate) fn create(path: &Path) -> Result<Recorder, MockError> {
        let failed = |e| MockError::io(format!("creating the recording {}", path.display()), e);
        File::create(path).map_err(failed)?;
        let file = std::fs::OpenOptions::new().append(true).open(path).map_err(failed)?;
        Ok(Recorder { path: path.to_owned(), file: Mutex::new(Appender { file, seq: 0, reported: false }) })
    }

    /// Describes a request as received: `parts` are its multipart parts when the transport split them.
    pub(crate) fn observe(
        &self,
        engine: &Engine,
        request: &RawRequest,
        parts: Option<&Result<Vec<Part>, String>>,
        transport: Transport,
    ) -> Observed {
        let (path, query) = request.target.split_once('?').unwrap_or((request.target.as_str(), ""));
        let v2 = request.method == "POST" && v2_endpoints::lookup(path).is_some();
        let mut line = Map::new();
        line.insert("format".into(), json!(FORMAT));
        line.insert("seq".into(), Value::Null);
        line.insert("api".into(), json!(if v2 { "v2" } else { "v3" }));
        let transport = match transport {
            Transport::Http => "http",
            Transport::MutualTls => "mutual-tls",
        };
        line.insert("transport".into(), json!(transport));
        line.insert("method".into(), json!(request.method));
        line.insert("path".into(), json!(path));
        let route = if v2 { None } else { Catalog::load().route(&request.method, path) };
        let (template, params) = match &route {
            Some(route) => (route.template(), route.path_params()),
            None => (path, Vec::new()),
        };
        line.insert("template".into(), json!(template));
        line.insert("params".into(), Value::Object(params.into_iter().map(|(k, v)| (k, Value::String(v))).collect()));
        line.insert("query".into(), query_map(query));
        let mut headers = Map::new();
        for name in KEPT_HEADERS {
            if let Some(value) = header(&request.headers, name) {
                headers.insert(name.to_owned(), json!(value));
            }
        }
        line.insert("headers".into(), Value::Object(headers));
        let order = request.headers.iter().map(|(name, _)| Value::String(name.to_ascii_lowercase())).collect();
        line.insert("header_order".into(), Value::Array(order));
        if let Some(serial) = header(&request.headers, "wechatpay-serial") {
            let names = match engine.wechat_key(serial) {
                Some(KeyRef::Platform(_)) => "platform_certificate",
                Some(KeyRef::Fixed(_)) => "public_key",
                None => "unknown",
            };
            line.insert("wechatpay_serial".into(), json!(names));
        }
        if v2 {
            v2_body(engine, request, &mut line);
        } else {
            v3_body(engine, request, parts, &mut line);
        }
        Observed(line)
    }

    /// Completes the line with the answer (`None`: the connection was dropped) and appends it.
    pub(crate) fn append(&self, observed: Observed, answer: Option<&RawResponse>) {
        let Observed(mut line) = observed;
        line.insert("answer".into(), answer.map_or_else(|| json!({"dropped": true}), describe_answer));
        let mut appender = self.file.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        appender.seq += 1;
        line.insert("seq".into(), json!(appender.seq));
        let mut text = Value::Object(line).to_string();
        text.push('\n');
        // Whole lines, in order, straight to the file (no buffer of ours): a crash loses at most the line being
        // written, and the file can be read while the tests run.
        if let Err(e) = appender.file.write_all(text.as_bytes()).and_then(|()| appender.file.flush()) {
            if !appender.reported {
                appender.reported = true;
                eprintln!("wechatpay-mock: appending to the recording {} failed: {e}", self.path.display());
            }
        }
    }
}

/// `{"name": "value"}`, an array for a repeated name.
fn query_map(query: &str) -> Value {
    let mut map = Map::new();
    for (name, value) in parse_query(query) {
        match map.get_mut(&name) {
            Some(Value::Array(values)) => values.push(Value::String(value)),
            Some(first) => *first = json!([first.take(), value]),
            None => {
                map.insert(name, Value::String(value));
            }
        }
    }
    Value::Object(map)
}

fn raw_body(bytes: &[u8], problem: impl Into<String>) -> Value {
    json!({"raw": {"length": bytes.len(), "sha256": hex_lower(&Sha256::digest(bytes)), "problem": problem.into()}})
}

fn v3_body(
    engine: &Engine,
    request: &RawRequest,
    parts: Option<&Result<Vec<Part>, String>>,
    line: &mut Map<String, Value>,
) {
    let content_type = header(&request.headers, "content-type").unwrap_or_default();
    let whole;
    let parsed = match parts {
        Some(parts) => Some(parts),
        None => {
            whole = multipart::boundary(content_type, &request.body).map(|b| multipart::parse(&request.body, &b));
            whole.as_ref()
        }
    };
    let (body, signed_body): (Value, &[u8]) = match parsed {
        Some(Ok(parts)) => {
            let meta = parts.iter().find(|p| p.name == "meta" && p.complete()).map_or(&[][..], |p| p.data.as_slice());
            (json!({"multipart": parts.iter().map(describe_part).collect::<Vec<_>>()}), meta)
        }
        Some(Err(e)) => (raw_body(&request.body, format!("bad multipart body: {e}")), &request.body),
        None if request.body.is_empty() => (Value::Null, &[]),
        None => match serde_json::from_slice::<Value>(&request.body) {
            Ok(value) => (json!({"json": value}), &request.body),
            Err(e) => (raw_body(&request.body, format!("not JSON: {e}")), &request.body),
        },
    };
    line.insert("body".into(), body);
    let signed = SignedRequest {
        method: &request.method,
        target: &request.target,
        authorization: header(&request.headers, "authorization"),
        signed_body,
    };
    let verdict = match signed.authorization {
        None => Err(None),
        Some(_) => auth::verify(&engine.keys, engine.settings.window, now_secs(), &signed).map_err(Some),
    };
    signature(line, verdict);
}

fn describe_part(part: &Part) -> Value {
    let mut out = Map::new();
    out.insert("name".into(), json!(part.name));
    if let Some(filename) = &part.filename {
        out.insert("filename".into(), json!(filename));
    }
    if let Some(content_type) = &part.content_type {
        out.insert("content_type".into(), json!(content_type));
    }
    out.insert("length".into(), json!(part.len));
    out.insert("sha256".into(), json!(hex_lower(&part.sha256)));
    if part.name == "meta" && part.complete() {
        if let Ok(meta) = serde_json::from_slice::<Value>(&part.data) {
            out.insert("json".into(), meta);
        }
    }
    Value::Object(out)
}

fn v2_body(engine: &Engine, request: &RawRequest, line: &mut Map<String, Value>) {
    let fields = match v2::parse_xml(&request.body) {
        Ok(fields) => fields,
        Err(e) => {
            line.insert("body".into(), raw_body(&request.body, format!("not APIv2 XML: {e}")));
            signature(line, Err(None));
            line.insert("nonce".into(), json!("absent"));
            return;
        }
    };
    let get = |name: &str| fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    let shown: Map<String, Value> = fields
        .iter()
        .filter(|(k, _)| k != "sign" && k != "nonce_str")
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    line.insert("body".into(), json!({"xml": shown}));
    let verdict = match get("sign") {
        None => Err(None),
        Some(sign) => match get("sign_type") {
            None | Some("MD5") => Ok(SignType::Md5),
            Some("HMAC-SHA256") => Ok(SignType::HmacSha256),
            Some(other) => Err(Some(format!("unknown sign_type {other}"))),
        }
        .and_then(|kind| {
            if v2::sign(&fields, &engine.ids.apiv2_key, kind).eq_ignore_ascii_case(sign) {
                Ok(())
            } else {
                let kind = if kind == SignType::Md5 { "MD5" } else { "HMAC-SHA256" };
                Err(Some(format!("the sign does not match the fields ({kind} with the APIv2 key)")))
            }
        }),
    };
    signature(line, verdict);
    let nonce = if get("nonce_str").is_some_and(|n| !n.is_empty()) { "present" } else { "absent" };
    line.insert("nonce".into(), json!(nonce));
}

/// `Err(None)`: no signature at all.
fn signature(line: &mut Map<String, Value>, verdict: Result<(), Option<String>>) {
    match verdict {
        Ok(()) => {
            line.insert("signature".into(), json!("valid"));
        }
        Err(None) => {
            line.insert("signature".into(), json!("absent"));
        }
        Err(Some(problem)) => {
            line.insert("signature".into(), json!("invalid"));
            line.insert("signature_problem".into(), json!(problem));
        }
    }
}

fn describe_answer(response: &RawResponse) -> Value {
    let mut out = Map::new();
    out.insert("status".into(), json!(response.status));
    let is_xml = response.header("content-type").is_some_and(|ct| ct.contains("xml"));
    let (code, message) = if is_xml {
        match v2::parse_xml(&response.body) {
            Ok(fields) => {
                let get = |name: &str| fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
                if get("return_code").as_deref() == Some("FAIL") {
                    (Some("FAIL".to_owned()), get("return_msg"))
                } else if get("result_code").as_deref() == Some("FAIL") {
                    (get("err_code"), get("err_code_des"))
                } else {
                    (None, None)
                }
            }
            Err(_) => (None, None),
        }
    } else if response.status >= 400 {
        let error = serde_json::from_slice::<Value>(&response.body).unwrap_or_default();
        let text = |name: &str| error.get(name).and_then(Value::as_str).map(str::to_owned);
        (text("code"), text("message"))
    } else {
        (None, None)
    };
    if let Some(code) = code {
        out.insert("code".into(), json!(code));
    }
    if let Some(message) = message {
        out.insert("message".into(), json!(message));
    }
    Value::Object(out)
}
