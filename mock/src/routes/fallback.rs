//! Every endpoint without in-memory state: answered from the endpoint catalog when it is available.

use serde_json::Value;

use super::Reply;

/// The answer for a path that no stateful endpoint handles.
pub(crate) fn answer(method: &str, path: &str, _query: &[(String, String)], _body: Option<&Value>) -> Reply {
    Reply::error(404, "NOT_FOUND", format!("{method} {path} is not a WeChat Pay endpoint"))
}
