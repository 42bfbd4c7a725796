//! Facts about every APIv3 endpoint of the public WeChat Pay catalog, so that the simulator can
//! answer any of them.
//!
//! The table `mock/data/catalog-v3.json` is derived from the public Swagger fragments by
//! `tools/gen_mock_catalog.py` and committed; it is embedded at compile time (the build never
//! reads the catalog itself). Per endpoint it holds the method and path template, the query
//! parameters and JSON body fields with their types, required-ness per level and enums, and a
//! schema-valid example answer.
//!
//! ```
//! use wechatpay_mock::catalog::Catalog;
//!
//! let catalog = Catalog::load();
//! let route = catalog
//!     .route("POST", "/v3/fund-app/mch-transfer/transfer-bills/out-bill-no/plfk2020042013/cancel")
//!     .expect("a catalog endpoint");
//! assert_eq!(route.template(), "/v3/fund-app/mch-transfer/transfer-bills/out-bill-no/{out_bill_no}/cancel");
//! assert_eq!(route.path_params(), vec![("out_bill_no".to_owned(), "plfk2020042013".to_owned())]);
//! assert!(route.validate(&[], None).is_ok());
//! let (status, body) = route.example_response();
//! assert_eq!(status, 200);
//! assert_eq!(body.unwrap()["state"], "CANCELING");
//! ```

use std::fmt;
use std::sync::OnceLock;

use serde_json::Value;

/// The derived table, embedded at compile time.
const TABLE: &str = include_str!("../data/catalog-v3.json");

/// The table layout version this reader understands (`"v"` in the table).
const TABLE_VERSION: u64 = 1;

/// No catalog template has more segments than this (the deepest has 11); longer request paths
/// are rejected before any lookup, and matching works on a fixed-size array.
const MAX_SEGMENTS: usize = 16;

/// At most this many enum values are listed in an error message.
const ENUM_IN_MESSAGE: usize = 12;

static CATALOG: OnceLock<Catalog> = OnceLock::new();

/// The endpoint catalog: every APIv3 endpoint the simulator can answer from derived facts, with a
/// segment trie for routing.
pub struct Catalog {
    endpoints: Vec<Endpoint>,
    /// Trie nodes; index 0 is the root (the segment after the leading `/`).
    nodes: Vec<TrieNode>,
}

/// One trie node: the templates ending here, literal children and the placeholder child.
#[derive(Default)]
struct TrieNode {
    /// Sorted by segment for binary search.
    literals: Vec<(Box<str>, usize)>,
    placeholder: Option<usize>,
    /// Endpoints whose template ends at this node, those with digit constraints first.
    here: Vec<usize>,
}

struct Endpoint {
    method: Box<str>,
    template: Box<str>,
    /// (segment index, placeholder name) in path order.
    params: Vec<(usize, Box<str>)>,
    /// Segment indexes whose placeholder only takes digits (used to tell twins apart).
    digit_segments: Vec<usize>,
    query: Vec<Field>,
    body: Option<Node>,
    status: u16,
    example: Option<Value>,
    /// Required facts of the answer (checked by the tests against `example`).
    #[cfg_attr(not(test), allow(dead_code))]
    answer: Option<Node>,
}

struct Field {
    name: Box<str>,
    node: Node,
    required: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Scalar {
    String,
    Integer,
    Number,
    Boolean,
}

enum Node {
    Any,
    Scalar(Scalar, Vec<Value>),
    Object(Vec<Field>),
    Array(Option<Box<Node>>),
}

/// A request's parameters did not match the endpoint's schema: WeChat Pay answers such a
/// request with HTTP 400 and `{"code":"PARAM_ERROR","message":...}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamError {
    /// Where the problem is: a query parameter name, or a dotted JSON path into the body such as
    /// `amount.total` or `transfer_scene_report_infos[0].info_type`; empty for the body itself.
    pub field: String,
    /// A human-readable explanation that names the field and what was expected.
    pub message: String,
}

impl fmt::Display for ParamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ParamError {}

/// A request matched to a catalog endpoint by [`Catalog::route`].
pub struct Route<'a> {
    endpoint: &'a Endpoint,
    /// Raw (still percent-encoded) placeholder values, in the order of `endpoint.params`.
    values: Vec<String>,
}

impl fmt::Debug for Route<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Route")
            .field("method", &self.method())
            .field("template", &self.template())
            .field("values", &self.values)
            .finish()
    }
}

impl fmt::Debug for Catalog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Catalog").field("endpoints", &self.endpoints.len()).finish()
    }
}

impl Catalog {
    /// The embedded catalog, parsed on first use and shared afterwards.
    ///
    /// The table is checked by the tests; should it ever fail to parse, the catalog is empty
    /// (every path is then unknown) rather than panicking in a request handler.
    pub fn load() -> &'static Catalog {
        CATALOG.get_or_init(|| Catalog::parse(TABLE).unwrap_or_else(|_| Catalog::empty()))
    }

    fn empty() -> Catalog {
        Catalog { endpoints: Vec::new(), nodes: vec![TrieNode::default()] }
    }

    /// The endpoint for `method` and `path` (the request path without query string, e.g.
    /// `/v3/pay/transactions/out-trade-no/123/close`).
    ///
    /// Literal segments win over placeholders; when the literal branch has no template for
    /// `method`, the placeholder branch is tried. A placeholder never matches an empty segment,
    /// so `/v3/applyment4sub/applyment/` (trailing slash) only matches its own template. Two
    /// templates of the same method and shape are told apart by placeholders that only take
    /// digits. Anything after a `?` is ignored. `None` when no template matches: use
    /// [`Catalog::knows_path`] to choose between 404 and 405.
    pub fn route(&self, method: &str, path: &str) -> Option<Route<'_>> {
        let mut buf = [""; MAX_SEGMENTS];
        let segs = split_path(path, &mut buf)?;
        let mut pick = |candidates: &[usize]| self.pick(candidates, method, segs);
        let index = self.search(0, segs, 0, &mut pick)?;
        let endpoint = self.endpoints.get(index)?;
        let values =
            endpoint.params.iter().map(|(seg, _)| segs.get(*seg).copied().unwrap_or_default().to_owned()).collect();
        Some(Route { endpoint, values })
    }

    /// True when some method has a template matching `path` (so a request with another method
    /// deserves 405 rather than 404).
    pub fn knows_path(&self, path: &str) -> bool {
        let mut buf = [""; MAX_SEGMENTS];
        let Some(segs) = split_path(path, &mut buf) else {
            return false;
        };
        let mut any = |candidates: &[usize]| candidates.first().copied();
        self.search(0, segs, 0, &mut any).is_some()
    }

    /// Number of endpoints in the catalog.
    pub fn len(&self) -> usize {
        self.endpoints.len()
    }

    /// True when the catalog has no endpoint (only if the embedded table could not be read).
    pub fn is_empty(&self) -> bool {
        self.endpoints.is_empty()
    }

    /// Every endpoint as `(method, path template)`, sorted by template then method.
    pub fn endpoints(&self) -> impl Iterator<Item = (&str, &str)> {
        self.endpoints.iter().map(|e| (&*e.method, &*e.template))
    }

    /// Depth-first search preferring literal children; `accept` chooses among the templates
    /// ending at a node. Recursion depth is bounded by the trie depth (at most `MAX_SEGMENTS`).
    fn search<F>(&self, node: usize, segs: &[&str], depth: usize, accept: &mut F) -> Option<usize>
    where
        F: FnMut(&[usize]) -> Option<usize>,
    {
        let here = self.nodes.get(node)?;
        let Some(seg) = segs.get(depth) else {
            return accept(&here.here);
        };
        if let Ok(i) = here.literals.binary_search_by(|(lit, _)| (**lit).cmp(*seg)) {
            if let Some(&(_, child)) = here.literals.get(i) {
                if let found @ Some(_) = self.search(child, segs, depth + 1, accept) {
                    return found;
                }
            }
        }
        match here.placeholder {
            Some(child) if !seg.is_empty() => self.search(child, segs, depth + 1, accept),
            _ => None,
        }
    }

    /// Among the templates ending at a node, the one for `method` whose digit-only placeholders
    /// hold digits, else the first one for `method`.
    fn pick(&self, candidates: &[usize], method: &str, segs: &[&str]) -> Option<usize> {
        let mut fallback = None;
        for &i in candidates {
            let Some(e) = self.endpoints.get(i) else { continue };
            if !e.method.eq_ignore_ascii_case(method) {
                continue;
            }
            let digits_ok = e
                .digit_segments
                .iter()
                .all(|s| segs.get(*s).is_some_and(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit())));
            if digits_ok {
                return Some(i);
            }
            fallback = fallback.or(Some(i));
        }
        fallback
    }

    /// Parses the table and builds the trie.
    fn parse(text: &str) -> Result<Catalog, String> {
        let doc: Value = serde_json::from_str(text).map_err(|e| format!("table is not JSON: {e}"))?;
        if doc.get("v").and_then(Value::as_u64) != Some(TABLE_VERSION) {
            return Err(format!("table version is not {TABLE_VERSION}"));
        }
        let list = doc.get("endpoints").and_then(Value::as_array).ok_or("no endpoint list")?;
        let mut catalog = Catalog::empty();
        for (i, raw) in list.iter().enumerate() {
            let endpoint = parse_endpoint(raw).map_err(|e| format!("endpoint #{i}: {e}"))?;
            catalog.insert(endpoint)?;
        }
        let Catalog { endpoints, nodes } = &mut catalog;
        for node in nodes.iter_mut() {
            node.here.sort_by_key(|&i| {
                let e = endpoints.get(i);
                (std::cmp::Reverse(e.map_or(0, |e| e.digit_segments.len())), e.map(|e| e.template.clone()))
            });
        }
        Ok(catalog)
    }

    fn insert(&mut self, endpoint: Endpoint) -> Result<(), String> {
        let mut buf = [""; MAX_SEGMENTS];
        let segs =
            split_path(&endpoint.template, &mut buf).ok_or_else(|| format!("bad template {}", endpoint.template))?;
        let mut node = 0;
        for (depth, seg) in segs.iter().enumerate() {
            let is_param = endpoint.params.iter().any(|(d, _)| *d == depth);
            node = if is_param { self.placeholder_child(node)? } else { self.literal_child(node, seg)? };
        }
        let index = self.endpoints.len();
        self.nodes.get_mut(node).ok_or("trie")?.here.push(index);
        self.endpoints.push(endpoint);
        Ok(())
    }

    fn placeholder_child(&mut self, node: usize) -> Result<usize, String> {
        let fresh = self.nodes.len();
        let slot = &mut self.nodes.get_mut(node).ok_or("trie")?.placeholder;
        if let Some(child) = *slot {
            return Ok(child);
        }
        *slot = Some(fresh);
        self.nodes.push(TrieNode::default());
        Ok(fresh)
    }

    fn literal_child(&mut self, node: usize, seg: &str) -> Result<usize, String> {
        let fresh = self.nodes.len();
        let literals = &mut self.nodes.get_mut(node).ok_or("trie")?.literals;
        match literals.binary_search_by(|(lit, _)| (**lit).cmp(seg)) {
            Ok(i) => literals.get(i).map(|(_, c)| *c).ok_or_else(|| "trie".to_owned()),
            Err(i) => {
                literals.insert(i, (seg.into(), fresh));
                self.nodes.push(TrieNode::default());
                Ok(fresh)
            }
        }
    }
}

impl Route<'_> {
    /// The matched path template, e.g. `/v3/fund-app/mch-transfer/transfer-bills/out-bill-no/{out_bill_no}/cancel`.
    pub fn template(&self) -> &str {
        &self.endpoint.template
    }

    /// The matched endpoint's HTTP method, upper case.
    pub fn method(&self) -> &str {
        &self.endpoint.method
    }

    /// Placeholder name and percent-decoded value for each placeholder of the template, in path
    /// order. Bytes that do not form UTF-8 after decoding are replaced by U+FFFD.
    pub fn path_params(&self) -> Vec<(String, String)> {
        self.endpoint
            .params
            .iter()
            .zip(&self.values)
            .map(|((_, name), raw)| (name.to_string(), percent_decode(raw)))
            .collect()
    }

    /// Checks the request against the endpoint's public schema, as WeChat Pay does before
    /// anything else: required query parameters and body fields present (per nesting level),
    /// JSON types right (string, integer, number, boolean, object, array) and values within the
    /// enums the schema gives. Query values are checked by parsing (`"10"` is a valid integer).
    ///
    /// `query` holds the decoded query pairs; `body` is the parsed JSON body, `None` when the
    /// request had none (a body that is expected but absent reports its first required field).
    /// For multipart/form-data uploads pass the parsed JSON `meta` part as `body`. Fields the
    /// schema does not know are accepted, a `null` counts as absent, and the first problem
    /// found is reported.
    pub fn validate(&self, query: &[(String, String)], body: Option<&Value>) -> Result<(), ParamError> {
        for field in &self.endpoint.query {
            let mut seen = false;
            for (_, value) in query.iter().filter(|(k, _)| **k == *field.name) {
                seen = true;
                check_query(&field.name, &field.node, value)?;
            }
            if !seen && field.required {
                return Err(ParamError {
                    field: field.name.to_string(),
                    message: format!(
                        "missing required query parameter `{}` (expected {})",
                        field.name,
                        field.node.describe()
                    ),
                });
            }
        }
        if let Some(node) = &self.endpoint.body {
            let empty = Value::Object(serde_json::Map::new());
            let body = match body {
                Some(Value::Null) | None => &empty,
                Some(b) => b,
            };
            let mut path = String::new();
            check_value(node, body, &mut path)?;
        }
        Ok(())
    }

    /// A schema-valid example answer: `(200, Some(body))` (or 202 where the schema says so), or
    /// `(204, None)` when the schema has no answer body. Download-style answers whose schema
    /// gives no JSON body are `(200, None)`.
    pub fn example_response(&self) -> (u16, Option<Value>) {
        (self.endpoint.status, self.endpoint.example.clone())
    }
}

/// Splits `/a/b/c` into its segments (`["a", "b", "c"]`; `/a/` gives `["a", ""]`), ignoring a
/// query string. `None` for paths without the leading `/` or with too many segments.
fn split_path<'p, 'b>(path: &'p str, buf: &'b mut [&'p str; MAX_SEGMENTS]) -> Option<&'b [&'p str]> {
    let path = path.split(['?', '#']).next().unwrap_or_default();
    let rest = path.strip_prefix('/')?;
    let mut n = 0;
    for seg in rest.split('/') {
        *buf.get_mut(n)? = seg;
        n += 1;
    }
    buf.get(..n)
}

fn percent_decode(raw: &str) -> String {
    fn hex(b: u8) -> Option<u8> {
        match b {
            b'0'..=b'9' => Some(b - b'0'),
            b'a'..=b'f' => Some(b - b'a' + 10),
            b'A'..=b'F' => Some(b - b'A' + 10),
            _ => None,
        }
    }
    if !raw.contains('%') {
        return raw.to_owned();
    }
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            if let (Some(h), Some(l)) =
                (bytes.get(i + 1).copied().and_then(hex), bytes.get(i + 2).copied().and_then(hex))
            {
                out.push(h << 4 | l);
                i += 3;
                continue;
            }
        }
        out.push(b);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn check_query(name: &str, node: &Node, value: &str) -> Result<(), ParamError> {
    let Node::Scalar(kind, allowed) = node else {
        return Ok(());
    };
    let ok = match kind {
        Scalar::String => true,
        Scalar::Integer => value.parse::<i64>().is_ok() || value.parse::<u64>().is_ok(),
        Scalar::Number => value.parse::<f64>().is_ok_and(f64::is_finite),
        Scalar::Boolean => value == "true" || value == "false",
    };
    if !ok {
        return Err(ParamError {
            field: name.to_owned(),
            message: format!("query parameter `{name}` must be {}, got {value:?}", node.describe()),
        });
    }
    if !allowed.is_empty() && !allowed.iter().any(|a| query_equals(a, value)) {
        return Err(ParamError {
            field: name.to_owned(),
            message: format!("query parameter `{name}` must be one of {}, got {value:?}", list_enum(allowed)),
        });
    }
    Ok(())
}

fn query_equals(allowed: &Value, value: &str) -> bool {
    match allowed {
        Value::String(s) => s == value,
        Value::Number(n) => value.parse::<f64>().ok().zip(n.as_f64()).is_some_and(|(v, a)| v == a),
        Value::Bool(b) => value == if *b { "true" } else { "false" },
        _ => false,
    }
}

fn value_equals(allowed: &Value, value: &Value) -> bool {
    match (allowed, value) {
        (Value::Number(a), Value::Number(v)) => a == v || a.as_f64().zip(v.as_f64()).is_some_and(|(a, v)| a == v),
        _ => allowed == value,
    }
}

/// Validates `value` against `node`; `path` is the dotted path of `value` (empty for the body).
/// Recursion follows the schema, so its depth is bounded by the table, never by the input.
fn check_value(node: &Node, value: &Value, path: &mut String) -> Result<(), ParamError> {
    if !node.accepts_type(value) {
        let what = if path.is_empty() { "request body".to_owned() } else { format!("field `{path}`") };
        return Err(ParamError {
            field: path.clone(),
            message: format!("{what} must be {}, got {}", node.describe(), json_type(value)),
        });
    }
    match node {
        Node::Any => Ok(()),
        Node::Scalar(_, allowed) => {
            if allowed.is_empty() || allowed.iter().any(|a| value_equals(a, value)) {
                Ok(())
            } else {
                Err(ParamError {
                    field: path.clone(),
                    message: format!("field `{path}` must be one of {}, got {value}", list_enum(allowed)),
                })
            }
        }
        Node::Object(fields) => {
            let Value::Object(map) = value else { return Ok(()) };
            let len = path.len();
            for field in fields {
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(&field.name);
                match map.get(&*field.name) {
                    None | Some(Value::Null) if field.required => {
                        return Err(ParamError {
                            field: path.clone(),
                            message: format!("missing required field `{path}` (expected {})", field.node.describe()),
                        });
                    }
                    None | Some(Value::Null) => {}
                    Some(v) => check_value(&field.node, v, path)?,
                }
                path.truncate(len);
            }
            Ok(())
        }
        Node::Array(items) => {
            let (Some(items), Value::Array(list)) = (items, value) else { return Ok(()) };
            let len = path.len();
            for (i, v) in list.iter().enumerate() {
                path.push_str(&format!("[{i}]"));
                check_value(items, v, path)?;
                path.truncate(len);
            }
            Ok(())
        }
    }
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(n) if n.is_f64() => "a number",
        Value::Number(_) => "an integer",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn list_enum(allowed: &[Value]) -> String {
    let mut out: Vec<String> = allowed
        .iter()
        .take(ENUM_IN_MESSAGE)
        .map(|v| match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
        .collect();
    if allowed.len() > ENUM_IN_MESSAGE {
        out.push("...".to_owned());
    }
    format!("[{}]", out.join(", "))
}

impl Node {
    fn accepts_type(&self, value: &Value) -> bool {
        match self {
            Node::Any => true,
            Node::Scalar(Scalar::String, _) => value.is_string(),
            Node::Scalar(Scalar::Integer, _) => value.is_i64() || value.is_u64(),
            Node::Scalar(Scalar::Number, _) => value.is_number(),
            Node::Scalar(Scalar::Boolean, _) => value.is_boolean(),
            Node::Object(_) => value.is_object(),
            Node::Array(_) => value.is_array(),
        }
    }

    fn describe(&self) -> &'static str {
        match self {
            Node::Any => "any value",
            Node::Scalar(Scalar::String, _) => "a string",
            Node::Scalar(Scalar::Integer, _) => "an integer",
            Node::Scalar(Scalar::Number, _) => "a number",
            Node::Scalar(Scalar::Boolean, _) => "a boolean",
            Node::Object(_) => "an object",
            Node::Array(_) => "an array",
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Table reading (layout documented in tools/gen_mock_catalog.py).
// ---------------------------------------------------------------------------------------------

fn parse_endpoint(raw: &Value) -> Result<Endpoint, String> {
    let method = raw.get("m").and_then(Value::as_str).ok_or("no method")?;
    let template = raw.get("p").and_then(Value::as_str).ok_or("no path")?;
    let mut buf = [""; MAX_SEGMENTS];
    let segs = split_path(template, &mut buf).ok_or_else(|| format!("bad template {template}"))?;
    let mut params = Vec::new();
    for (depth, seg) in segs.iter().enumerate() {
        if let Some(name) = seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            params.push((depth, Box::<str>::from(name)));
        }
    }
    let mut digit_segments = Vec::new();
    for name in raw.get("d").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default() {
        let name = name.as_str().ok_or("bad digit placeholder")?;
        let (depth, _) =
            params.iter().find(|(_, n)| **n == *name).ok_or_else(|| format!("unknown placeholder {name}"))?;
        digit_segments.push(*depth);
    }
    let query = match raw.get("q") {
        Some(q) => parse_fields(q)?,
        None => Vec::new(),
    };
    let body = raw.get("b").map(parse_node).transpose()?;
    let status = raw
        .get("s")
        .and_then(Value::as_u64)
        .and_then(|s| u16::try_from(s).ok())
        .filter(|s| (200..300).contains(s))
        .ok_or("bad status")?;
    let example = raw.get("x").cloned();
    let answer = raw.get("r").map(parse_node).transpose()?;
    Ok(Endpoint {
        method: method.to_ascii_uppercase().into(),
        template: template.into(),
        params,
        digit_segments,
        query,
        body,
        status,
        example,
        answer,
    })
}

fn parse_fields(raw: &Value) -> Result<Vec<Field>, String> {
    let list = raw.as_array().ok_or("fields are not a list")?;
    list.iter()
        .map(|f| {
            let name = f.get(0).and_then(Value::as_str).ok_or("field without name")?;
            let node = parse_node(f.get(1).ok_or("field without type")?)?;
            let required = f.get(2).and_then(Value::as_u64) == Some(1);
            Ok(Field { name: name.into(), node, required })
        })
        .collect()
}

fn parse_node(raw: &Value) -> Result<Node, String> {
    let (code, payload) = match raw {
        Value::String(code) => (code.as_str(), None),
        Value::Array(pair) => (pair.first().and_then(Value::as_str).ok_or("bad node")?, pair.get(1)),
        _ => return Err("bad node".to_owned()),
    };
    let scalar = |kind| -> Result<Node, String> {
        let allowed = match payload {
            Some(p) => p.as_array().ok_or("bad enum")?.clone(),
            None => Vec::new(),
        };
        Ok(Node::Scalar(kind, allowed))
    };
    match code {
        "s" => scalar(Scalar::String),
        "i" => scalar(Scalar::Integer),
        "n" => scalar(Scalar::Number),
        "b" => scalar(Scalar::Boolean),
        "o" => Ok(Node::Object(match payload {
            Some(p) => parse_fields(p)?,
            None => Vec::new(),
        })),
        "a" => Ok(Node::Array(match payload {
            Some(p) => Some(Box::new(parse_node(p)?)),
            None => None,
        })),
        "*" => Ok(Node::Any),
        other => Err(format!("unknown type code {other:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::collections::BTreeSet;

    /// Endpoints of endpoints-v3.tsv that are deliberately not in the table: no YAML fragment
    /// describes them and each has the same method and path shape as a documented twin
    /// (`{out_insurance_no}`), so no request could ever be routed to them.
    const DROPPED: [(&str, &str); 2] = [
        ("GET", "/v3/inspolicymgr/deduct/authorizations/{auth_id}"),
        ("GET", "/v3/inspolicymgr/deduct/policies/{policy_id}"),
    ];
    const CATALOG_V3: usize = 1023;

    fn catalog() -> &'static Catalog {
        Catalog::load()
    }

    fn find<'a>(method: &str, template: &str) -> &'a Endpoint {
        catalog()
            .endpoints
            .iter()
            .find(|e| &*e.method == method && &*e.template == template)
            .unwrap_or_else(|| panic!("{method} {template} not in table"))
    }

    fn route_of(method: &str, template: &str) -> Route<'static> {
        Route { endpoint: find(method, template), values: Vec::new() }
    }

    /// A concrete path for a template, and the decoded values expected for its placeholders.
    fn concrete(e: &Endpoint) -> (String, Vec<(String, String)>) {
        let mut expected = Vec::new();
        let mut path = String::new();
        for (depth, seg) in e.template.trim_start_matches('/').split('/').enumerate() {
            path.push('/');
            match e.params.iter().find(|(d, _)| *d == depth) {
                Some((_, name)) if e.digit_segments.contains(&depth) => {
                    path.push_str("4200001234");
                    expected.push((name.to_string(), "4200001234".to_owned()));
                }
                Some((_, name)) => {
                    path.push_str(&format!("v-{name}-%E4%B8%AD%2F1"));
                    expected.push((name.to_string(), format!("v-{name}-中/1")));
                }
                None => path.push_str(seg),
            }
        }
        (path, expected)
    }

    #[test]
    fn table_parses_and_has_every_catalog_endpoint_but_the_documented_twins() {
        let parsed = Catalog::parse(TABLE).expect("embedded table parses");
        assert_eq!(parsed.len(), CATALOG_V3 - DROPPED.len());
        let c = catalog();
        assert_eq!(c.len(), CATALOG_V3 - DROPPED.len());
        assert!(!c.is_empty());
        let all: BTreeSet<(&str, &str)> = c.endpoints().collect();
        assert_eq!(all.len(), c.len(), "duplicate endpoints in the table");
        for d in DROPPED {
            assert!(!all.contains(&d), "{d:?} should have been dropped");
        }
        assert!(all.iter().any(|(_, p)| p.starts_with("/hk/v3/")));
        assert!(all.iter().any(|(_, p)| p.starts_with("/global/v3/")));
    }

    /// Compares the table with ../shared/catalog when that directory exists (it is never read
    /// at build time), else with the copy of the endpoint list committed under
    /// tests/fixtures/catalog; the count check above runs regardless.
    #[test]
    fn table_is_in_sync_with_the_shared_catalog() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let dir = root.join("../shared/catalog");
        let shared = std::fs::read_to_string(dir.join("endpoints-v3.tsv")).ok();
        let tsv = match &shared {
            Some(tsv) => tsv.clone(),
            None => match std::fs::read_to_string(root.join("tests/fixtures/catalog/endpoints-v3.tsv")) {
                Ok(tsv) => tsv,
                Err(_) => {
                    eprintln!("no endpoint list at hand: only the endpoint count is checked");
                    return;
                }
            },
        };
        let listed: BTreeSet<(String, String)> = tsv
            .lines()
            .filter_map(|l| {
                let mut cols = l.split('\t');
                Some((cols.next()?.to_owned(), cols.next()?.to_owned()))
            })
            .collect();
        assert_eq!(listed.len(), CATALOG_V3);
        let dropped: BTreeSet<(String, String)> = DROPPED.iter().map(|(m, p)| (m.to_string(), p.to_string())).collect();
        let expected: BTreeSet<_> = listed.difference(&dropped).cloned().collect();
        let table: BTreeSet<(String, String)> =
            catalog().endpoints().map(|(m, p)| (m.to_owned(), p.to_owned())).collect();
        assert_eq!(table, expected);

        // With the catalog and the generator's toolchain at hand, the facts must be up to date too.
        if shared.is_none() {
            return;
        }
        let has_yaml = std::process::Command::new("python3")
            .args(["-c", "import yaml"])
            .output()
            .is_ok_and(|o| o.status.success());
        if !has_yaml {
            eprintln!("python3 with PyYAML absent: endpoint lists compared, facts not re-derived");
            return;
        }
        let out = std::process::Command::new("python3")
            .arg(root.join("tools/gen_mock_catalog.py"))
            .arg("--check")
            .arg("--catalog")
            .arg(&dir)
            .arg("--out")
            .arg(root.join("mock/data/catalog-v3.json"))
            .output()
            .expect("run tools/gen_mock_catalog.py");
        assert!(
            out.status.success(),
            "mock/data/catalog-v3.json is stale, run tools/gen_mock_catalog.py:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    #[test]
    fn every_endpoint_routes_back_to_itself() {
        let c = catalog();
        for e in &c.endpoints {
            let (path, expected) = concrete(e);
            let route = c.route(&e.method, &path).unwrap_or_else(|| panic!("{} {path} did not route", e.method));
            assert_eq!((route.method(), route.template()), (&*e.method, &*e.template), "{path}");
            assert_eq!(route.path_params(), expected, "{path}");
            assert!(c.knows_path(&path));
            let lower = e.method.to_ascii_lowercase();
            assert_eq!(c.route(&lower, &path).map(|r| r.template().to_owned()).as_deref(), Some(&*e.template));
        }
    }

    #[test]
    fn every_example_answer_validates_against_the_answer_facts() {
        let c = catalog();
        let mut with_body = 0;
        for e in &c.endpoints {
            let route = Route { endpoint: e, values: Vec::new() };
            let (status, body) = route.example_response();
            assert!((200..300).contains(&status));
            match (&body, &e.answer) {
                (Some(body), Some(facts)) => {
                    with_body += 1;
                    let mut path = String::new();
                    check_value(facts, body, &mut path)
                        .unwrap_or_else(|err| panic!("{} {}: {}", e.method, e.template, err.message));
                }
                (Some(body), None) => assert!(body.is_object() || body.is_array(), "{}", e.template),
                (None, facts) => {
                    assert!(facts.is_none(), "{} {}", e.method, e.template);
                    assert!(status == 204 || status == 200 || status == 202, "{}", e.template);
                }
            }
            if status == 204 {
                assert!(body.is_none(), "{} {}: 204 with a body", e.method, e.template);
            }
        }
        assert!(with_body > 800, "{with_body}");
    }

    #[test]
    fn examples_of_bodies_built_from_the_request_facts_validate() {
        // A body holding every required field, built from the facts, must pass; removing any
        // top-level required field must fail naming that field.
        fn build(node: &Node) -> Value {
            match node {
                Node::Any => json!("x"),
                Node::Scalar(_, allowed) if !allowed.is_empty() => allowed[0].clone(),
                Node::Scalar(Scalar::String, _) => json!("x"),
                Node::Scalar(Scalar::Integer | Scalar::Number, _) => json!(1),
                Node::Scalar(Scalar::Boolean, _) => json!(true),
                Node::Object(fields) => Value::Object(
                    fields.iter().filter(|f| f.required).map(|f| (f.name.to_string(), build(&f.node))).collect(),
                ),
                Node::Array(Some(items)) => json!([build(items)]),
                Node::Array(None) => json!([]),
            }
        }
        for e in &catalog().endpoints {
            let route = Route { endpoint: e, values: Vec::new() };
            let query: Vec<(String, String)> = e
                .query
                .iter()
                .filter(|f| f.required)
                .map(|f| {
                    let v = match &f.node {
                        Node::Scalar(_, allowed) if !allowed.is_empty() => match &allowed[0] {
                            Value::String(s) => s.clone(),
                            other => other.to_string(),
                        },
                        Node::Scalar(Scalar::Integer | Scalar::Number, _) => "1".to_owned(),
                        Node::Scalar(Scalar::Boolean, _) => "true".to_owned(),
                        _ => "x".to_owned(),
                    };
                    (f.name.to_string(), v)
                })
                .collect();
            let body = e.body.as_ref().map(build);
            route.validate(&query, body.as_ref()).unwrap_or_else(|err| panic!("{}: {err}", e.template));
            if let Some(Value::Object(map)) = &body {
                for key in map.keys() {
                    let mut less = map.clone();
                    less.remove(key);
                    let err = route.validate(&query, Some(&Value::Object(less))).expect_err(key);
                    assert_eq!(err.field, *key, "{}", e.template);
                }
            }
            for (i, (name, _)) in query.iter().enumerate() {
                let mut less = query.clone();
                less.remove(i);
                let err = route.validate(&less, body.as_ref()).expect_err(name);
                assert_eq!(err.field, *name);
            }
        }
    }

    fn jsapi_body() -> Value {
        json!({
            "appid": "wxd678efh567hg6787",
            "mchid": "1230000109",
            "description": "Image形象店-深圳腾大-QQ公仔",
            "out_trade_no": "1217752501201407033233368018",
            "notify_url": "https://www.weixin.qq.com/wxpay/pay.php",
            "amount": {"total": 100, "currency": "CNY"},
            "payer": {"openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},
            "unknown_extra": {"anything": [1, 2, 3]}
        })
    }

    #[test]
    fn body_validation_names_missing_wrong_and_out_of_enum_fields() {
        let route = route_of("POST", "/v3/pay/transactions/jsapi");
        assert_eq!(route.validate(&[], Some(&jsapi_body())), Ok(()));

        let mut body = jsapi_body();
        body["amount"].as_object_mut().unwrap().remove("total");
        let err = route.validate(&[], Some(&body)).unwrap_err();
        assert_eq!(err.field, "amount.total");
        assert!(err.message.contains("amount.total") && err.message.contains("integer"), "{}", err.message);

        let mut body = jsapi_body();
        body["amount"]["total"] = json!("100");
        let err = route.validate(&[], Some(&body)).unwrap_err();
        assert_eq!(err.field, "amount.total");
        assert!(err.message.contains("must be an integer, got a string"), "{}", err.message);

        let mut body = jsapi_body();
        body["amount"]["total"] = json!(1.5);
        assert_eq!(route.validate(&[], Some(&body)).unwrap_err().field, "amount.total");

        let mut body = jsapi_body();
        body["amount"] = json!(100);
        let err = route.validate(&[], Some(&body)).unwrap_err();
        assert_eq!(err.field, "amount");
        assert!(err.message.contains("must be an object"), "{}", err.message);

        let mut body = jsapi_body();
        body["payer"] = json!(null);
        assert_eq!(route.validate(&[], Some(&body)).unwrap_err().field, "payer");

        let mut body = jsapi_body();
        body["limit_pay"] = json!(["no_credit", "cash"]);
        let err = route.validate(&[], Some(&body)).unwrap_err();
        assert_eq!(err.field, "limit_pay[1]");
        assert!(err.message.contains("one of") && err.message.contains("no_credit"), "{}", err.message);

        // An optional field that is present is type-checked; null counts as absent.
        let mut body = jsapi_body();
        body["attach"] = json!(7);
        assert_eq!(route.validate(&[], Some(&body)).unwrap_err().field, "attach");
        body["attach"] = json!(null);
        assert_eq!(route.validate(&[], Some(&body)), Ok(()));

        // Body expected but absent, or not an object.
        let err = route.validate(&[], None).unwrap_err();
        assert_eq!(err.field, "appid");
        assert!(err.message.contains("missing required field `appid`"), "{}", err.message);
        assert_eq!(route.validate(&[], Some(&Value::Null)).unwrap_err().field, "appid");
        let err = route.validate(&[], Some(&json!([1]))).unwrap_err();
        assert_eq!(err.field, "");
        assert!(err.message.contains("request body must be an object"), "{}", err.message);
    }

    #[test]
    fn array_items_are_validated_with_their_index() {
        let route = route_of("POST", "/v3/fund-app/mch-transfer/transfer-bills");
        let good = json!({
            "appid": "wxf636efh567hg4356",
            "out_bill_no": "plfk2020042013",
            "transfer_scene_id": "1000",
            "openid": "o-MYE42l80oelYMDE34nYD456Xoy",
            "transfer_amount": 400000,
            "transfer_remark": "2020年会员代付",
            "transfer_scene_report_infos": [{"info_type": "活动名称", "info_content": "新会员有礼"}]
        });
        assert_eq!(route.validate(&[], Some(&good)), Ok(()));
        let mut bad = good.clone();
        bad["transfer_scene_report_infos"] = json!([{"info_type": "a", "info_content": "b"}, {"info_content": "c"}]);
        let err = route.validate(&[], Some(&bad)).unwrap_err();
        assert_eq!(err.field, "transfer_scene_report_infos[1].info_type");
        assert!(err.message.contains("transfer_scene_report_infos[1].info_type"), "{}", err.message);
        let mut bad = good.clone();
        bad["transfer_scene_id"] = json!("9999");
        let err = route.validate(&[], Some(&bad)).unwrap_err();
        assert_eq!(err.field, "transfer_scene_id");
        assert!(err.message.contains("9999") && err.message.contains("1000"), "{}", err.message);
        let mut bad = good;
        bad["transfer_scene_report_infos"] = json!({"info_type": "a"});
        let err = route.validate(&[], Some(&bad)).unwrap_err();
        assert_eq!(err.field, "transfer_scene_report_infos");
        assert!(err.message.contains("must be an array"), "{}", err.message);
    }

    #[test]
    fn query_validation_checks_presence_parsing_and_enums() {
        fn q(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
            pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
        }
        let c = catalog();
        let route = c.route("GET", "/v3/bill/tradebill").unwrap();
        assert_eq!(route.validate(&q(&[("bill_date", "2019-06-11")]), None), Ok(()));
        let err = route.validate(&q(&[("bill_type", "ALL")]), None).unwrap_err();
        assert_eq!(err.field, "bill_date");
        assert!(err.message.contains("missing required query parameter `bill_date`"), "{}", err.message);

        let route = c.route("GET", "/v3/iotmanage/devices").unwrap();
        assert_eq!(route.validate(&q(&[("limit", "10"), ("offset", "0")]), None), Ok(()));
        let err = route.validate(&q(&[("limit", "ten"), ("offset", "0")]), None).unwrap_err();
        assert_eq!(err.field, "limit");
        assert!(err.message.contains("must be an integer") && err.message.contains("\"ten\""), "{}", err.message);
        assert_eq!(route.validate(&q(&[("limit", "10")]), None).unwrap_err().field, "offset");

        let route = c.route("GET", "/v3/transfer-detail/electronic-receipts").unwrap();
        let ok = q(&[("accept_type", "BATCH_TRANSFER"), ("out_detail_no", "x")]);
        assert_eq!(route.validate(&ok, None), Ok(()));
        let err = route.validate(&q(&[("accept_type", "CASH"), ("out_detail_no", "x")]), None).unwrap_err();
        assert_eq!(err.field, "accept_type");
        assert!(err.message.contains("one of [BATCH_TRANSFER"), "{}", err.message);

        let route = c.route("GET", "/v3/bank-transfer/batches/batch-id/1").unwrap();
        assert_eq!(route.validate(&q(&[("need_query_detail", "true")]), None), Ok(()));
        let err = route.validate(&q(&[("need_query_detail", "yes")]), None).unwrap_err();
        assert!(err.message.contains("must be a boolean"), "{}", err.message);

        // A path placeholder wrongly declared `in: query` in the schema is not asked for.
        let route = c.route("GET", "/v3/bank-transfer/batches/out-batch-no/B1").unwrap();
        assert_eq!(route.validate(&q(&[("need_query_detail", "false")]), None), Ok(()));

        // Optional enum parameter: absent is fine, wrong value is not; unknown parameters pass.
        let route = c.route("GET", "/v3/certificates").unwrap();
        assert_eq!(route.validate(&q(&[("foo", "bar")]), None), Ok(()));
        assert_eq!(route.validate(&q(&[("algorithm_type", "DSA")]), None).unwrap_err().field, "algorithm_type");
    }

    #[test]
    fn routing_edge_cases() {
        let c = catalog();
        let t = |m: &str, p: &str| c.route(m, p).map(|r| r.template().to_owned());

        // Hyphen/underscore twins stay distinct.
        assert_eq!(
            t("GET", "/v3/papay/insurance-sign/policy_periods/plan-id/1/out-contract-code/2").as_deref(),
            Some("/v3/papay/insurance-sign/policy_periods/plan-id/{plan_id}/out-contract-code/{out_contract_code}")
        );
        assert_eq!(
            t("POST", "/v3/papay/insurance-sign/policy-periods/plan-id/1/contract-id/2/modify").as_deref(),
            Some("/v3/papay/insurance-sign/policy-periods/plan-id/{plan_id}/contract-id/{contract_id}/modify")
        );
        assert_eq!(t("GET", "/v3/papay/insurance-sign/policy-periods/plan-id/1/out-contract-code/2"), None);
        assert_eq!(
            t("GET", "/v3/brand/applyments/applyment-id/1").as_deref(),
            Some("/v3/brand/applyments/applyment-id/{applyment_id}")
        );
        assert_eq!(t("GET", "/v3/brand/applyments/applyment_id/1"), None);

        // Literal segment equal to a placeholder name.
        let r = c.route("GET", "/v3/applyment4sub/applyment/applyment_id/2000002124775691").unwrap();
        assert_eq!(r.template(), "/v3/applyment4sub/applyment/applyment_id/{applyment_id}");
        assert_eq!(r.path_params(), vec![("applyment_id".to_owned(), "2000002124775691".to_owned())]);
        let r = c.route("GET", "/v3/edu-star/users/qq/123456").unwrap();
        assert_eq!(r.path_params(), vec![("qq".to_owned(), "123456".to_owned())]);

        // Trailing slash: its own template; the placeholder sibling never takes an empty segment.
        assert_eq!(t("POST", "/v3/applyment4sub/applyment/").as_deref(), Some("/v3/applyment4sub/applyment/"));
        assert_eq!(t("POST", "/v3/ecommerce/applyments/").as_deref(), Some("/v3/ecommerce/applyments/"));
        assert_eq!(t("GET", "/v3/ecommerce/applyments/").as_deref(), None);
        assert!(c.knows_path("/v3/ecommerce/applyments/"));
        assert_eq!(
            t("GET", "/v3/ecommerce/applyments/123").as_deref(),
            Some("/v3/ecommerce/applyments/{applyment_id}")
        );
        assert_eq!(t("POST", "/v3/applyment4sub/applyment"), None);
        assert!(!c.knows_path("/v3/applyment4sub/applyment"));

        // Hong Kong and global prefixes.
        assert_eq!(
            t("POST", "/hk/v3/transactions/out-trade-no/T1/close").as_deref(),
            Some("/hk/v3/transactions/out-trade-no/{out_trade_no}/close")
        );
        assert_eq!(t("GET", "/global/v3/customs/orders").as_deref(), Some("/global/v3/customs/orders"));
        assert_eq!(t("GET", "/hk/v3/refunds").as_deref(), Some("/hk/v3/refunds"));

        // Literal first, placeholder when the literal has no template for the method.
        assert_eq!(
            t("POST", "/v3/brand/partner/card-member/membership-activities/terminate").as_deref(),
            Some("/v3/brand/partner/card-member/membership-activities/terminate")
        );
        assert_eq!(
            t("GET", "/v3/brand/partner/card-member/membership-activities/terminate").as_deref(),
            Some("/v3/brand/partner/card-member/membership-activities/{activity_id}")
        );

        // Same shape, told apart by digit-only placeholders.
        assert_eq!(
            t("POST", "/v3/apply4subject/applyment/2000002124775691/cancel").as_deref(),
            Some("/v3/apply4subject/applyment/{applyment_id}/cancel")
        );
        assert_eq!(
            t("POST", "/v3/apply4subject/applyment/APPLY_1/cancel").as_deref(),
            Some("/v3/apply4subject/applyment/{business_code}/cancel")
        );

        // The documented shadowed twins route to the described endpoint.
        assert_eq!(
            t("GET", "/v3/inspolicymgr/deduct/policies/P1").as_deref(),
            Some("/v3/inspolicymgr/deduct/policies/{out_insurance_no}")
        );

        // 404 vs 405.
        assert_eq!(t("GET", "/v3/pay/transactions/out-trade-no/1/close"), None);
        assert!(c.knows_path("/v3/pay/transactions/out-trade-no/1/close"));
        assert!(!c.knows_path("/v3/no/such/path"));
        assert_eq!(t("GET", "/v3/no/such/path"), None);

        // Query strings are ignored; odd input never panics.
        assert_eq!(t("GET", "/v3/bill/tradebill?bill_date=2019-06-11").as_deref(), Some("/v3/bill/tradebill"));
        for p in ["", "/", "v3/bill/tradebill", "//", "/v3//bill", "/%", "/v3/bill/tradebill/", "/\u{0}/\u{ffff}"] {
            assert_eq!(t("GET", p), None, "{p:?}");
            assert!(!c.knows_path(p), "{p:?}");
        }
        let deep = "/v3".repeat(200);
        assert_eq!(t("GET", &deep), None);
        assert!(!c.knows_path(&deep));
        assert_eq!(t("BREW", "/v3/bill/tradebill"), None);
    }

    #[test]
    fn path_params_are_percent_decoded() {
        let c = catalog();
        let r = c.route("GET", "/v3/pay/transactions/out-trade-no/a%20b%2Fc%E4%B8%AD%zz%").unwrap();
        assert_eq!(r.path_params(), vec![("out_trade_no".to_owned(), "a b/c中%zz%".to_owned())]);
        let r = c.route("GET", "/v3/pay/transactions/out-trade-no/%FF").unwrap();
        assert_eq!(r.path_params()[0].1, "\u{fffd}");
    }

    #[test]
    fn example_answers() {
        let (status, body) = route_of("POST", "/v3/pay/transactions/jsapi").example_response();
        assert_eq!(status, 200);
        assert!(body.unwrap()["prepay_id"].is_string());
        let (status, body) =
            route_of("POST", "/v3/pay/transactions/out-trade-no/{out_trade_no}/close").example_response();
        assert_eq!((status, body), (204, None));
        let (status, body) = route_of("GET", "/v3/pay/transactions/id/{transaction_id}").example_response();
        assert_eq!(status, 200);
        let body = body.unwrap();
        assert!(body["amount"]["total"].is_i64() || body["amount"]["total"].is_u64(), "{body}");
        assert!(body["trade_state"].is_string());
    }

    #[test]
    fn a_table_that_does_not_parse_gives_an_error_not_a_panic() {
        for bad in [
            "",
            "[]",
            "{\"v\":2,\"endpoints\":[]}",
            "{\"v\":1}",
            "{\"v\":1,\"endpoints\":[{\"m\":\"GET\"}]}",
            "{\"v\":1,\"endpoints\":[{\"m\":\"GET\",\"p\":\"/a\",\"s\":99}]}",
            "{\"v\":1,\"endpoints\":[{\"m\":\"GET\",\"p\":\"/a\",\"s\":200,\"b\":[\"q\"]}]}",
            "{\"v\":1,\"endpoints\":[{\"m\":\"GET\",\"p\":\"/a/{x}\",\"s\":200,\"d\":[\"y\"]}]}",
        ] {
            assert!(Catalog::parse(bad).is_err(), "{bad}");
        }
        let ok = Catalog::parse("{\"v\":1,\"endpoints\":[]}").unwrap();
        assert!(ok.is_empty() && ok.route("GET", "/").is_none());
    }
}
