//! What every handler answers: status, body, how it is signed, and bodies produced while they are sent.

use std::sync::Arc;

use serde_json::{Value, json};

/// What a handler answers.
#[derive(Debug, Clone)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) body: Vec<u8>,
    pub(crate) content_type: Option<&'static str>,
    /// WeChat Pay signs almost every answer; bill files and image downloads are the exceptions.
    pub(crate) signing: Signing,
    /// Headers besides the standard ones.
    pub(crate) extra_headers: Vec<(&'static str, String)>,
    /// A body produced while it is sent (bill files), instead of `body`.
    pub(crate) stream: Option<Streamed>,
}

/// The chunks of a body produced while it is sent.
pub(crate) type Chunks = Box<dyn Iterator<Item = Vec<u8>> + Send>;

/// A body produced piece by piece when it is sent, so that a bill of gigabytes is never held in memory;
/// its length is announced as `Content-Length` when known (otherwise the answer is chunked). One pointer
/// wide, so that every `Result<Reply, Reply>` stays small.
#[derive(Clone)]
pub(crate) struct Streamed(Arc<StreamedBody>);

struct StreamedBody {
    len: Option<u64>,
    open: Box<dyn Fn() -> Chunks + Send + Sync>,
}

impl Streamed {
    pub(crate) fn new(len: Option<u64>, open: impl Fn() -> Chunks + Send + Sync + 'static) -> Self {
        Streamed(Arc::new(StreamedBody { len, open: Box::new(open) }))
    }

    /// The body's length, when known before it is produced.
    pub(crate) fn len(&self) -> Option<u64> {
        self.0.len
    }

    /// The body's chunks, from its start.
    pub(crate) fn chunks(&self) -> Chunks {
        (self.0.open)()
    }
}

impl std::fmt::Debug for Streamed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Streamed").field("len", &self.0.len).finish_non_exhaustive()
    }
}

/// What the answer's signature covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Signing {
    /// The body bytes (almost every answer).
    Body,
    /// Other bytes than the body (overseas statements: `{"sha1":"..."}`).
    Over(Vec<u8>),
    /// No signature headers at all (bill files, image downloads).
    Unsigned,
}

impl Reply {
    pub(crate) fn json(status: u16, value: &Value) -> Reply {
        Reply {
            status,
            body: serde_json::to_vec(value).unwrap_or_default(),
            content_type: Some("application/json; charset=utf-8"),
            signing: Signing::Body,
            extra_headers: Vec::new(),
            stream: None,
        }
    }

    pub(crate) fn ok(value: &Value) -> Reply {
        Reply::json(200, value)
    }

    pub(crate) fn no_content() -> Reply {
        Reply {
            status: 204,
            body: Vec::new(),
            content_type: None,
            signing: Signing::Body,
            extra_headers: Vec::new(),
            stream: None,
        }
    }

    /// A WeChat-style error: `{"code":..., "message":...}`.
    pub(crate) fn error(status: u16, code: &str, message: impl Into<String>) -> Reply {
        Reply::json(status, &json!({ "code": code, "message": message.into() }))
    }

    /// 400 `PARAM_ERROR` naming the field.
    pub(crate) fn param_error(field: &str, location: &str, message: impl Into<String>) -> Reply {
        Reply::json(
            400,
            &json!({
                "code": "PARAM_ERROR",
                "message": message.into(),
                "detail": { "field": field, "location": location },
            }),
        )
    }

    pub(crate) fn missing(field: &str, location: &str) -> Reply {
        Reply::param_error(field, location, format!("the required field {field} is missing"))
    }

    pub(crate) fn invalid_request(message: impl Into<String>) -> Reply {
        Reply::error(400, "INVALID_REQUEST", message)
    }
}

/// A header value by case-insensitive name.
pub(crate) fn header<'h>(headers: &'h [(String, String)], name: &str) -> Option<&'h str> {
    headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
}
