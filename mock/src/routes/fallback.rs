//! Every endpoint without in-memory state: checked against the catalog's schema (in the engine) and
//! answered with the catalog's schema-valid example.

use serde_json::{Value, json};
use sha1::{Digest as _, Sha1};

use crate::catalog::Route;
use crate::reply::{Reply, Signing};
use crate::util::hex_lower;

/// The example answer of a catalog endpoint.
pub(crate) fn answer(route: &Route<'_>, path: &str, mchid: &str) -> Reply {
    match route.example_response() {
        (status, Some(mut body)) => {
            // Examples carry the documentation's merchant id; answer with the simulated one.
            replace_mchid(&mut body, mchid);
            Reply::json(status, &body)
        }
        (200, None) => download(route.template(), path),
        (status, None) => Reply {
            status,
            body: Vec::new(),
            content_type: None,
            signing: Signing::Body,
            extra_headers: Vec::new(),
            stream: None,
        },
    }
}

fn replace_mchid(value: &mut Value, mchid: &str) {
    match value {
        Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                if matches!(key.as_str(), "mchid" | "mch_id" | "sp_mchid") && v.is_string() {
                    *v = json!(mchid);
                } else {
                    replace_mchid(v, mchid);
                }
            }
        }
        Value::Array(list) => list.iter_mut().for_each(|v| replace_mchid(v, mchid)),
        _ => {}
    }
}

/// Download-style answers: image downloads are unsigned, overseas statements are signed over
/// `{"sha1":"<Wechatpay-Statement-Sha1>"}`, other files are signed over their bytes.
fn download(template: &str, path: &str) -> Reply {
    let file = format!("wechatpay-mock file for {path}\n").into_bytes();
    if template.ends_with("/merchant-service/images/{media_id}") {
        return Reply {
            status: 200,
            body: file,
            content_type: Some("application/octet-stream"),
            signing: Signing::Unsigned,
            extra_headers: Vec::new(),
            stream: None,
        };
    }
    if template.ends_with("/statements") {
        let sha1 = hex_lower(&Sha1::digest(&file));
        return Reply {
            status: 200,
            body: file,
            content_type: Some("text/plain; charset=utf-8"),
            signing: Signing::Over(format!(r#"{{"sha1":"{sha1}"}}"#).into_bytes()),
            extra_headers: vec![("Wechatpay-Statement-Sha1", sha1)],
            stream: None,
        };
    }
    Reply {
        status: 200,
        body: file,
        content_type: Some("application/octet-stream"),
        signing: Signing::Body,
        extra_headers: Vec::new(),
        stream: None,
    }
}
