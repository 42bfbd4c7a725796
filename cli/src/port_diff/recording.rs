//! Reading a recording of `wechatpay-mock --record FILE`: one JSON object per line, in the simulator's documented
//! format 1 (`wechatpay_mock::record`). Only this file knows the format's member names; the tool does not link the
//! simulator.

use std::path::Path;

use serde_json::{Map, Value};

use crate::failure::{Failure, Result};

/// The line format this tool reads.
const FORMAT: u64 = 1;

/// A recording: its calls, in the order the simulator answered them.
#[derive(Debug)]
pub struct Recording {
    pub file: String,
    pub calls: Vec<Call>,
}

/// One recorded request.
#[derive(Debug, Clone)]
pub struct Call {
    /// The line it was read from (1-based).
    pub line: usize,
    pub api: String,
    pub transport: String,
    pub method: String,
    pub template: String,
    pub params: Map<String, Value>,
    pub query: Map<String, Value>,
    /// Header names as the simulator writes them (`Wechatpay-Serial`, `Content-Type`, ...).
    pub headers: Map<String, Value>,
    /// What `Wechatpay-Serial` names: `platform_certificate`, `public_key` or `unknown`.
    pub wechatpay_serial: Option<String>,
    pub body: Body,
    /// `valid`, `invalid` or `absent`.
    pub signature: String,
    pub signature_problem: Option<String>,
    /// APIv2: `present` or `absent`.
    pub nonce: Option<String>,
    pub answer: Value,
}

/// A request body as recorded.
#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    None,
    Json(Value),
    /// APIv2 fields (without `sign` and `nonce_str`).
    Xml(Value),
    Multipart(Vec<Part>),
    /// Neither JSON, XML nor multipart: compared by length and digest.
    Raw {
        length: u64,
        sha256: String,
        problem: String,
    },
}

/// One part of a multipart body.
#[derive(Debug, Clone, PartialEq)]
pub struct Part {
    pub name: String,
    pub filename: Option<String>,
    pub content_type: Option<String>,
    pub length: u64,
    pub sha256: String,
    /// The `meta` part, parsed.
    pub json: Option<Value>,
}

impl Call {
    /// `POST /v3/pay/transactions/out-trade-no/{out_trade_no}/close`.
    pub fn endpoint(&self) -> String {
        format!("{} {}", self.method, self.template)
    }

    /// A header by its recorded name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(key, _)| key.eq_ignore_ascii_case(name)).and_then(|(_, value)| value.as_str())
    }
}

impl Recording {
    /// Reads a recording. A last line cut short (the simulator stopped while writing it) is left out with a
    /// warning; any other line that is not a request of format 1 is an error naming the file and line.
    pub fn read(path: &Path) -> Result<Recording> {
        let file = path.display().to_string();
        let bytes =
            std::fs::read(path).map_err(|err| Failure::usage(format!("cannot read the recording `{file}`: {err}")))?;
        let text = String::from_utf8_lossy(&bytes);
        let complete = text.ends_with('\n');
        let lines: Vec<&str> = text.lines().collect();
        let mut calls = Vec::with_capacity(lines.len());
        for (index, line) in lines.iter().enumerate() {
            let number = index + 1;
            if line.trim().is_empty() {
                continue;
            }
            let value = match serde_json::from_str::<Value>(line) {
                Ok(value) => value,
                Err(_) if number == lines.len() && !complete => {
                    eprintln!(
                        "wechatpay: {file} line {number} is cut short (the simulator stopped while writing it): left out"
                    );
                    continue;
                }
                Err(err) => {
                    return Err(Failure::usage(format!(
                        "{file} line {number} is not JSON ({err}): give a recording of wechatpay-mock --record FILE"
                    )));
                }
            };
            calls.push(
                call(&value, number).map_err(|reason| Failure::usage(format!("{file} line {number}: {reason}")))?,
            );
        }
        Ok(Recording { file, calls })
    }
}

fn call(value: &Value, line: usize) -> std::result::Result<Call, String> {
    let record = value.as_object().ok_or("not a JSON object: give a recording of wechatpay-mock --record FILE")?;
    match record.get("format").and_then(Value::as_u64) {
        Some(FORMAT) => {}
        Some(other) => {
            return Err(format!(
                "format {other} is not the format {FORMAT} this wechatpay reads: use the wechatpay of the same \
                 release as the wechatpay-mock that recorded it"
            ));
        }
        None => return Err("no `format`: give a recording of wechatpay-mock --record FILE".to_owned()),
    }
    let text = |name: &str| record.get(name).and_then(Value::as_str).map(str::to_owned);
    let required = |name: &str| text(name).ok_or_else(|| format!("`{name}` is missing or not a string"));
    let object = |name: &str| match record.get(name) {
        Some(Value::Object(map)) => map.clone(),
        _ => Map::new(),
    };
    let method = required("method")?;
    let template = text("template").map_or_else(|| required("path"), Ok)?;
    Ok(Call {
        line,
        api: text("api").unwrap_or_else(|| "v3".to_owned()),
        transport: text("transport").unwrap_or_else(|| "http".to_owned()),
        method,
        template,
        params: object("params"),
        query: object("query"),
        headers: object("headers"),
        wechatpay_serial: text("wechatpay_serial"),
        body: body(record.get("body"))?,
        signature: text("signature").unwrap_or_else(|| "absent".to_owned()),
        signature_problem: text("signature_problem"),
        nonce: text("nonce"),
        answer: record.get("answer").cloned().unwrap_or(Value::Null),
    })
}

fn body(value: Option<&Value>) -> std::result::Result<Body, String> {
    let Some(Value::Object(body)) = value else {
        return match value {
            None | Some(Value::Null) => Ok(Body::None),
            Some(_) => Err("`body` is neither null nor an object".to_owned()),
        };
    };
    if let Some(json) = body.get("json") {
        return Ok(Body::Json(json.clone()));
    }
    if let Some(xml) = body.get("xml") {
        return Ok(Body::Xml(xml.clone()));
    }
    if let Some(parts) = body.get("multipart") {
        let parts = parts.as_array().ok_or("`body.multipart` is not an array")?;
        return parts.iter().map(part).collect::<std::result::Result<_, _>>().map(Body::Multipart);
    }
    if let Some(raw) = body.get("raw") {
        let text = |name: &str| raw.get(name).and_then(Value::as_str).unwrap_or_default().to_owned();
        let length = raw.get("length").and_then(Value::as_u64).unwrap_or_default();
        return Ok(Body::Raw { length, sha256: text("sha256"), problem: text("problem") });
    }
    Err("`body` has none of json, xml, multipart or raw".to_owned())
}

fn part(value: &Value) -> std::result::Result<Part, String> {
    let text = |name: &str| value.get(name).and_then(Value::as_str).map(str::to_owned);
    Ok(Part {
        name: text("name").ok_or("a multipart part has no `name`")?,
        filename: text("filename"),
        content_type: text("content_type"),
        length: value.get("length").and_then(Value::as_u64).unwrap_or_default(),
        sha256: text("sha256").unwrap_or_default(),
        json: value.get("json").cloned(),
    })
}
