//! What differs between two recorded calls, in words a porter understands: the endpoint, path placeholders, the
//! query, `Wechatpay-Serial`, the media type, the signature, and the body field by field. `User-Agent`, `Accept`,
//! header order, JSON key order and whitespace are never compared; nor are nonces, timestamps and signatures'
//! bytes (the recording only says whether they were there and valid).

use std::fmt::Write as _;

use serde_json::{Map, Value, json};

use super::recording::{Body, Call, Part};
use crate::failure::{Failure, Result};

/// The two recordings' names in messages: `php` and `rust` for php.jsonl and rust.jsonl.
#[derive(Debug, Clone)]
pub struct Labels {
    pub a: String,
    pub b: String,
}

/// One difference between two calls (or a call without a counterpart).
#[derive(Debug, Clone)]
pub struct Difference {
    /// A stable name for machines: `missing_call`, `field_type`, ... (the README lists them).
    pub kind: &'static str,
    /// Where: `body amount.total`, `query mchid`, `path {out_trade_no}`, `Wechatpay-Serial`, ... (empty for a call).
    pub at: String,
    pub a: Option<Value>,
    pub b: Option<Value>,
    /// The whole sentence, with the labels.
    pub message: String,
}

impl Difference {
    fn new(kind: &'static str, at: impl Into<String>, a: Option<Value>, b: Option<Value>, message: String) -> Self {
        Difference { kind, at: at.into(), a, b, message }
    }
}

/// Values compared by presence only (`--ignore`): a bare name (`out_trade_no`) is a path placeholder, a query
/// parameter, an APIv2 field, a multipart part, a header, or a JSON field of that name at any depth; a dotted path
/// (`amount.total`, `detail.goods_detail[].quantity`, `items[0]`) is that JSON field of the body or of an upload's
/// `meta`, from the top.
#[derive(Debug, Default)]
pub struct Ignore {
    names: Vec<String>,
    paths: Vec<Vec<Step>>,
}

/// One step of a JSON path in a pattern.
#[derive(Debug, PartialEq)]
enum Step {
    Key(String),
    Index(usize),
    AnyIndex,
}

/// One step of the path to a value being compared.
#[derive(Debug, Clone)]
enum Seg {
    Key(String),
    Index(usize),
}

impl Ignore {
    pub fn parse(patterns: &[String]) -> Result<Ignore> {
        let mut ignore = Ignore::default();
        for pattern in patterns {
            let bad = |why: &str| {
                Failure::usage(format!(
                    "--ignore `{pattern}`: {why}; give a name (out_trade_no) or a JSON path (amount.total, \
                     goods_detail[].quantity)"
                ))
            };
            let pattern = pattern.trim();
            if pattern.is_empty() {
                return Err(bad("it is empty"));
            }
            if !pattern.contains(['.', '[']) {
                ignore.names.push(pattern.to_owned());
                continue;
            }
            let mut steps = Vec::new();
            for piece in pattern.split('.') {
                let (key, mut rest) = piece.split_once('[').map_or((piece, ""), |(key, rest)| (key, rest));
                if !key.is_empty() {
                    steps.push(Step::Key(key.to_owned()));
                } else if !piece.starts_with('[') {
                    return Err(bad("it has an empty segment"));
                }
                while !rest.is_empty() {
                    let (index, after) = rest.split_once(']').ok_or_else(|| bad("a `[` is not closed"))?;
                    steps.push(match index {
                        "" | "*" => Step::AnyIndex,
                        n => Step::Index(n.parse().map_err(|_| bad("an array index is not a number"))?),
                    });
                    rest = after.strip_prefix('[').unwrap_or(after);
                    if !after.is_empty() && !after.starts_with('[') {
                        return Err(bad("text after `]` must be `[` or `.`"));
                    }
                }
            }
            ignore.paths.push(steps);
        }
        Ok(ignore)
    }

    /// A placeholder, query parameter, APIv2 field, part or header name.
    fn name(&self, name: &str) -> bool {
        self.names.iter().any(|n| n == name)
    }

    fn header(&self, name: &str) -> bool {
        self.names.iter().any(|n| n.eq_ignore_ascii_case(name))
    }

    /// A JSON field: by its name at any depth, or by its whole path.
    fn field(&self, path: &[Seg]) -> bool {
        if let Some(Seg::Key(last)) = path.last() {
            if self.name(last) {
                return true;
            }
        }
        self.paths.iter().any(|steps| {
            steps.len() == path.len()
                && steps.iter().zip(path).all(|(step, seg)| match (step, seg) {
                    (Step::Key(k), Seg::Key(s)) => k == s,
                    (Step::Index(i), Seg::Index(j)) => i == j,
                    (Step::AnyIndex, Seg::Index(_)) => true,
                    _ => false,
                })
        })
    }
}

/// `amount.total`, `goods_detail[0].quantity`.
fn dotted(path: &[Seg]) -> String {
    let mut out = String::new();
    for seg in path {
        match seg {
            Seg::Key(key) if out.is_empty() => out.push_str(key),
            Seg::Key(key) => {
                out.push('.');
                out.push_str(key);
            }
            Seg::Index(index) => {
                let _ = write!(out, "[{index}]");
            }
        }
    }
    out
}

/// A value as a porter reads it: JSON, cut after 80 characters.
pub fn show(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() <= 80 { text } else { text.chars().take(77).collect::<String>() + "..." }
}

/// The first 16 hex digits of a digest: enough to tell two apart in a message (`--json` has them whole).
fn short(digest: &str) -> String {
    match digest.get(..16) {
        Some(head) if digest.len() > 16 => format!("{head}..."),
        _ => digest.to_owned(),
    }
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Compares two calls paired with each other.
pub struct Comparison<'a> {
    pub labels: &'a Labels,
    pub ignore: &'a Ignore,
    pub out: Vec<Difference>,
}

impl Comparison<'_> {
    pub fn calls(&mut self, a: &Call, b: &Call) {
        let Labels { a: la, b: lb } = self.labels;
        if a.api != b.api {
            let message = format!("{la} makes an API{} call, {lb} an API{} call", a.api, b.api);
            self.push("api", "", json!(a.api), json!(b.api), message);
        }
        if a.method != b.method || a.template != b.template {
            // Another endpoint: its query and body would differ everywhere, so that alone is said.
            let message = format!("{la} called {}, {lb} {}", a.endpoint(), b.endpoint());
            self.push("path", "", json!(a.endpoint()), json!(b.endpoint()), message);
            return;
        }
        if a.transport != b.transport {
            let how = |t: &str| match t {
                "mutual-tls" => "over mutual TLS (merchant certificate presented)".to_owned(),
                "http" => "without the merchant certificate (plain listener)".to_owned(),
                other => format!("over {other}"),
            };
            let message = format!("{la} came {}, {lb} {}", how(&a.transport), how(&b.transport));
            self.push("transport", "", json!(a.transport), json!(b.transport), message);
        }
        self.placeholders(&a.params, &b.params);
        self.query(&a.query, &b.query);
        self.serial(a, b);
        self.media_type(a, b);
        self.header("Accept-Language", a, b);
        self.signature(a, b);
        if a.nonce != b.nonce {
            let said = |n: &Option<String>| n.as_deref().unwrap_or("absent").to_owned();
            let message = format!("nonce_str: {} in {la}, {} in {lb}", said(&a.nonce), said(&b.nonce));
            self.push("nonce", "nonce_str", json!(a.nonce), json!(b.nonce), message);
        }
        self.body(&a.body, &b.body);
    }

    fn push(&mut self, kind: &'static str, at: &str, a: Value, b: Value, message: String) {
        let present = |v: Value| (!v.is_null()).then_some(v);
        self.out.push(Difference::new(kind, at, present(a), present(b), message));
    }

    /// Path placeholders (same template, so the same names: only their values can differ).
    fn placeholders(&mut self, a: &Map<String, Value>, b: &Map<String, Value>) {
        let Labels { a: la, b: lb } = self.labels;
        for (name, value) in a {
            match b.get(name) {
                Some(other) if other != value && !self.ignore.name(name) => {
                    let at = format!("path {{{name}}}");
                    let message = format!("{at}: {} in {la}, {} in {lb}", show(value), show(other));
                    self.out.push(Difference::new(
                        "placeholder",
                        at,
                        Some(value.clone()),
                        Some(other.clone()),
                        message,
                    ));
                }
                _ => {}
            }
        }
    }

    /// The query's names and values (a repeated name holds an array).
    fn query(&mut self, a: &Map<String, Value>, b: &Map<String, Value>) {
        let Labels { a: la, b: lb } = self.labels;
        for (name, value) in a {
            let at = format!("query {name}");
            match b.get(name) {
                None => {
                    let message = format!("{at}: {} in {la}, not sent by {lb}", show(value));
                    self.out.push(Difference::new("query_missing", at, Some(value.clone()), None, message));
                }
                Some(other) if other != value && !self.ignore.name(name) => {
                    let message = format!("{at}: {} in {la}, {} in {lb}", show(value), show(other));
                    self.out.push(Difference::new(
                        "query_value",
                        at,
                        Some(value.clone()),
                        Some(other.clone()),
                        message,
                    ));
                }
                Some(_) => {}
            }
        }
        for (name, value) in b.iter().filter(|(name, _)| !a.contains_key(*name)) {
            let at = format!("query {name}");
            let message = format!("{at}: not sent by {la}, {} in {lb}", show(value));
            self.out.push(Difference::new("query_extra", at, None, Some(value.clone()), message));
        }
    }

    fn serial(&mut self, a: &Call, b: &Call) {
        let Labels { a: la, b: lb } = self.labels;
        let names = |call: &Call| match call.wechatpay_serial.as_deref() {
            Some("platform_certificate") => "a platform certificate",
            Some("public_key") => "the WeChat Pay public key",
            _ => "no key the simulator knows",
        };
        let (sa, sb) = (a.header("Wechatpay-Serial"), b.header("Wechatpay-Serial"));
        let message = match (sa, sb) {
            (None, None) => return,
            (Some(s), None) => format!("Wechatpay-Serial: {la} sent {s} ({}), {lb} none", names(a)),
            (None, Some(s)) => format!("Wechatpay-Serial: {la} sent none, {lb} {s} ({})", names(b)),
            (Some(_), Some(_)) if self.ignore.header("Wechatpay-Serial") => return,
            (Some(_), Some(_)) if a.wechatpay_serial != b.wechatpay_serial => {
                format!("Wechatpay-Serial: {la} names {}, {lb} {}", names(a), names(b))
            }
            (Some(x), Some(y)) if x != y => format!(
                "Wechatpay-Serial: {la} sent {x}, {lb} {y} (both name {}; recordings made with different \
                 simulator identities differ here: run both with the same --state-dir)",
                names(a)
            ),
            _ => return,
        };
        self.push("serial", "Wechatpay-Serial", json!(sa), json!(sb), message);
    }

    /// The media type of the body (`application/json`; parameters such as `charset` and `boundary` aside), when
    /// both calls have a body: without one, a Content-Type says nothing.
    fn media_type(&mut self, a: &Call, b: &Call) {
        if a.body == Body::None || b.body == Body::None || self.ignore.header("Content-Type") {
            return;
        }
        let essence = |call: &Call| {
            call.header("Content-Type").map(|ct| ct.split(';').next().unwrap_or_default().trim().to_ascii_lowercase())
        };
        let (ma, mb) = (essence(a), essence(b));
        if ma != mb {
            let Labels { a: la, b: lb } = self.labels;
            let said = |m: &Option<String>| m.clone().unwrap_or_else(|| "none".to_owned());
            let message = format!("Content-Type: {} in {la}, {} in {lb}", said(&ma), said(&mb));
            self.push("media_type", "Content-Type", json!(ma), json!(mb), message);
        }
    }

    fn header(&mut self, name: &str, a: &Call, b: &Call) {
        let (va, vb) = (a.header(name), b.header(name));
        if va == vb || (va.is_some() && vb.is_some() && self.ignore.header(name)) {
            return;
        }
        let Labels { a: la, b: lb } = self.labels;
        let said = |v: Option<&str>| v.map_or_else(|| "not sent".to_owned(), |v| format!("{v:?}"));
        let message = format!("{name}: {} in {la}, {} in {lb}", said(va), said(vb));
        self.push("header", name, json!(va), json!(vb), message);
    }

    fn signature(&mut self, a: &Call, b: &Call) {
        if a.signature == b.signature {
            return;
        }
        let Labels { a: la, b: lb } = self.labels;
        let said = |call: &Call| match call.signature.as_str() {
            "valid" => "signed, and it verifies".to_owned(),
            "absent" => "not signed".to_owned(),
            _ => match &call.signature_problem {
                Some(problem) => format!("signed, but it does not verify ({problem})"),
                None => "signed, but it does not verify".to_owned(),
            },
        };
        let at = if a.api == "v2" { "sign" } else { "Authorization" };
        let message = format!("signature: {la}'s request is {}; {lb}'s is {}", said(a), said(b));
        self.push("signature", at, json!(a.signature), json!(b.signature), message);
    }

    fn body(&mut self, a: &Body, b: &Body) {
        let Labels { a: la, b: lb } = self.labels;
        let kind = |body: &Body| match body {
            Body::None => "no body",
            Body::Json(_) => "a JSON body",
            Body::Xml(_) => "an XML body",
            Body::Multipart(_) => "a multipart upload",
            Body::Raw { .. } => "a body that is not JSON",
        };
        match (a, b) {
            (Body::None, Body::None) => {}
            (Body::Json(x), Body::Json(y)) => self.json("body", x, y, &mut Vec::new()),
            (Body::Xml(x), Body::Xml(y)) => self.json("xml", x, y, &mut Vec::new()),
            (Body::Multipart(x), Body::Multipart(y)) => self.parts(x, y),
            (Body::Raw { length: n, sha256: x, .. }, Body::Raw { length: m, sha256: y, .. }) => {
                if x != y {
                    let (sx, sy) = (short(x), short(y));
                    let message = format!(
                        "body: the bytes differ ({n} bytes, sha256 {sx} in {la}; {m} bytes, sha256 {sy} in {lb})"
                    );
                    self.push("body", "body", json!(x), json!(y), message);
                }
            }
            _ => {
                let message = format!("body: {la} sends {}, {lb} {}", kind(a), kind(b));
                self.push("body", "body", json!(kind(a)), json!(kind(b)), message);
            }
        }
    }

    /// Field by field: missing, extra, of another type, another value; arrays element by element.
    fn json(&mut self, place: &str, a: &Value, b: &Value, path: &mut Vec<Seg>) {
        let Labels { a: la, b: lb } = self.labels;
        let at = match dotted(path) {
            field if field.is_empty() => place.to_owned(),
            field => format!("{place} {field}"),
        };
        if !path.is_empty() && self.ignore.field(path) {
            return;
        }
        match (a, b) {
            (Value::Object(x), Value::Object(y)) => {
                for (key, value) in x {
                    path.push(Seg::Key(key.clone()));
                    match y.get(key) {
                        Some(other) => self.json(place, value, other, path),
                        None => {
                            let at = format!("{place} {}", dotted(path));
                            let message = format!("{at}: {} in {la}, missing in {lb}", show(value));
                            self.out.push(Difference::new("field_missing", at, Some(value.clone()), None, message));
                        }
                    }
                    path.pop();
                }
                for (key, value) in y.iter().filter(|(key, _)| !x.contains_key(*key)) {
                    path.push(Seg::Key(key.clone()));
                    let at = format!("{place} {}", dotted(path));
                    let message = format!("{at}: missing in {la}, {} in {lb}", show(value));
                    self.out.push(Difference::new("field_extra", at, None, Some(value.clone()), message));
                    path.pop();
                }
            }
            (Value::Array(x), Value::Array(y)) => {
                for index in 0..x.len().max(y.len()) {
                    path.push(Seg::Index(index));
                    let at = format!("{place} {}", dotted(path));
                    match (x.get(index), y.get(index)) {
                        (Some(value), Some(other)) => self.json(place, value, other, path),
                        (Some(value), None) => {
                            let message = format!(
                                "{at}: {} in {la}, missing in {lb} ({} elements in {la}, {} in {lb})",
                                show(value),
                                x.len(),
                                y.len()
                            );
                            self.out.push(Difference::new("field_missing", at, Some(value.clone()), None, message));
                        }
                        (None, Some(other)) => {
                            let message = format!(
                                "{at}: missing in {la}, {} in {lb} ({} elements in {la}, {} in {lb})",
                                show(other),
                                x.len(),
                                y.len()
                            );
                            self.out.push(Difference::new("field_extra", at, None, Some(other.clone()), message));
                        }
                        (None, None) => {}
                    }
                    path.pop();
                }
            }
            _ if type_name(a) != type_name(b) => {
                let message =
                    format!("{at}: {} ({}) in {la}, {} ({}) in {lb}", show(a), type_name(a), show(b), type_name(b));
                self.out.push(Difference::new("field_type", at, Some(a.clone()), Some(b.clone()), message));
            }
            _ if a != b => {
                let message = format!("{at}: {} in {la}, {} in {lb}", show(a), show(b));
                self.out.push(Difference::new("field_value", at, Some(a.clone()), Some(b.clone()), message));
            }
            _ => {}
        }
    }

    /// Upload parts by name: present, file name, media type, content (SHA-256), and the `meta` JSON.
    fn parts(&mut self, a: &[Part], b: &[Part]) {
        let Labels { a: la, b: lb } = self.labels;
        for part in a {
            let at = format!("part {}", part.name);
            let Some(other) = b.iter().find(|p| p.name == part.name) else {
                let message = format!("{at}: sent by {la}, not by {lb}");
                self.push("part_missing", &at, json!(part.name), Value::Null, message);
                continue;
            };
            if part.filename != other.filename && !self.ignore.name("filename") {
                let said =
                    |name: &Option<String>| name.as_ref().map_or_else(|| "none".to_owned(), |n| format!("{n:?}"));
                let message =
                    format!("{at}: file name {} in {la}, {} in {lb}", said(&part.filename), said(&other.filename));
                self.push("part_filename", &at, json!(part.filename), json!(other.filename), message);
            }
            let essence = |p: &Part| {
                p.content_type.as_deref().map(|ct| ct.split(';').next().unwrap_or_default().trim().to_ascii_lowercase())
            };
            if essence(part) != essence(other) {
                let said = |m: Option<String>| m.unwrap_or_else(|| "none".to_owned());
                let message =
                    format!("{at}: Content-Type {} in {la}, {} in {lb}", said(essence(part)), said(essence(other)));
                self.push("part_media_type", &at, json!(essence(part)), json!(essence(other)), message);
            }
            match (&part.json, &other.json) {
                (Some(x), Some(y)) => self.json(&part.name, x, y, &mut Vec::new()),
                _ if part.sha256 != other.sha256 && !self.ignore.name(&part.name) => {
                    let message = format!(
                        "{at}: the content differs ({} bytes, sha256 {} in {la}; {} bytes, sha256 {} in {lb})",
                        part.length,
                        short(&part.sha256),
                        other.length,
                        short(&other.sha256)
                    );
                    self.push("part_content", &at, json!(part.sha256), json!(other.sha256), message);
                }
                _ => {}
            }
        }
        for part in b.iter().filter(|p| !a.iter().any(|q| q.name == p.name)) {
            let at = format!("part {}", part.name);
            let message = format!("{at}: not sent by {la}, sent by {lb}");
            self.push("part_extra", &at, Value::Null, json!(part.name), message);
        }
    }
}

/// The simulator's answers, when they differ: a note, not a difference (the simulator's state may differ between
/// the two runs), but often the reason a test failed.
pub fn answer_note(a: &Call, b: &Call, labels: &Labels) -> Option<String> {
    let said = |answer: &Value| {
        if answer.get("dropped").and_then(Value::as_bool) == Some(true) {
            return "no answer (the connection was dropped)".to_owned();
        }
        let mut text = answer.get("status").map_or_else(|| "?".to_owned(), Value::to_string);
        if let Some(code) = answer.get("code").and_then(Value::as_str) {
            text.push(' ');
            text.push_str(code);
        }
        text
    };
    let (sa, sb) = (said(&a.answer), said(&b.answer));
    (sa != sb).then(|| format!("the simulator answered {sa} to {}, {sb} to {}", labels.a, labels.b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ignore(patterns: &[&str]) -> Ignore {
        Ignore::parse(&patterns.iter().map(|p| (*p).to_owned()).collect::<Vec<_>>()).expect("patterns parse")
    }

    fn path(segs: &[&str]) -> Vec<Seg> {
        segs.iter().map(|s| s.parse().map_or_else(|_| Seg::Key((*s).to_owned()), Seg::Index)).collect()
    }

    #[test]
    fn names_match_anywhere_and_paths_from_the_top() {
        let i = ignore(&["out_trade_no", "amount.total", "detail.goods_detail[].quantity", "items[1]", "[0].x"]);
        assert!(i.field(&path(&["out_trade_no"])));
        assert!(i.field(&path(&["sub_orders", "3", "out_trade_no"])));
        assert!(i.field(&path(&["amount", "total"])));
        assert!(!i.field(&path(&["total"])));
        assert!(!i.field(&path(&["refund", "amount", "total"])));
        assert!(i.field(&path(&["detail", "goods_detail", "7", "quantity"])));
        assert!(!i.field(&path(&["detail", "goods_detail", "quantity"])));
        assert!(i.field(&path(&["items", "1"])));
        assert!(!i.field(&path(&["items", "0"])));
        assert!(i.field(&path(&["0", "x"])));
        assert!(i.name("out_trade_no") && !i.name("amount.total"));
        assert!(ignore(&["wechatpay-serial"]).header("Wechatpay-Serial"));
        assert_eq!(dotted(&path(&["detail", "goods_detail", "7", "quantity"])), "detail.goods_detail[7].quantity");
    }

    #[test]
    fn malformed_patterns_say_what_is_wrong() {
        let error = |pattern: &str| match Ignore::parse(&[pattern.to_owned()]) {
            Err(failure) => failure.message,
            Ok(parsed) => panic!("{pattern} parsed: {parsed:?}"),
        };
        assert!(error(" ").contains("it is empty"));
        assert!(error("a..b").contains("an empty segment"));
        assert!(error("a.").contains("an empty segment"));
        assert!(error("items[0").contains("not closed"));
        assert!(error("items[x]").contains("not a number"));
        assert!(error("items[0]x").contains("after `]`"));
    }

    #[test]
    fn values_show_short_and_typed() {
        assert_eq!(show(&json!("1")), "\"1\"");
        assert_eq!(show(&json!("x".repeat(100))).chars().count(), 80);
        assert_eq!(type_name(&json!(1)), "a number");
        assert_eq!(type_name(&json!({})), "an object");
        assert_eq!(short(&"ab".repeat(32)), "abababababababab...");
        assert_eq!(short("00"), "00");
    }
}
