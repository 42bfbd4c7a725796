//! Uploads (`multipart/form-data`): the signature covers the `meta` part only (checked by the request
//! checks); here the `meta.sha256` must match the `file` part, hashed while it streamed in.

use serde_json::{Value, json};

use super::Ctx;
use crate::reply::Reply;
use crate::util::{hex_lower, random_alnum};

/// What an upload endpoint answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UploadKind {
    /// `{"media_id": "..."}` (merchant media).
    MediaId,
    /// `{"media_id": "<HEX>.<ext>"}` (merchant-service images).
    ImageId,
    /// `{"media_url": "..."}` (marketing images).
    MediaUrl,
}

pub(crate) fn upload(ctx: &Ctx<'_>, kind: UploadKind, seq: u64) -> Result<Reply, Reply> {
    let Some(parts) = &ctx.parts else {
        return Err(Reply::param_error(
            "meta",
            "body",
            "uploads must be multipart/form-data with a meta part and a file part",
        ));
    };
    let meta = parts.iter().find(|p| p.name == "meta").ok_or_else(|| Reply::missing("meta", "body"))?;
    let file = parts.iter().find(|p| p.name == "file").ok_or_else(|| Reply::missing("file", "body"))?;
    if !meta.complete() {
        return Err(Reply::param_error("meta", "body", "the meta part is too long to be a meta JSON"));
    }
    let meta: Value = serde_json::from_slice(&meta.data)
        .map_err(|_| Reply::param_error("meta", "body", "the meta part is not JSON"))?;
    let filename = meta
        .get("filename")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| Reply::missing("meta.filename", "body"))?;
    let declared = meta
        .get("sha256")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| Reply::missing("meta.sha256", "body"))?;
    // The file part was hashed as it arrived (large videos are never held whole).
    let actual = hex_lower(&file.sha256);
    if !declared.eq_ignore_ascii_case(&actual) {
        return Err(Reply::param_error(
            "meta.sha256",
            "body",
            format!("meta.sha256 {declared} is not the SHA-256 of the file part ({actual})"),
        ));
    }
    if file.len == 0 {
        return Err(Reply::param_error("file", "body", "the file part is empty"));
    }
    let ext = filename.rsplit_once('.').map(|(_, e)| e).unwrap_or("bin");
    let answer = match kind {
        UploadKind::MediaId => json!({ "media_id": format!("{}-{seq}", random_alnum(64)) }),
        UploadKind::ImageId => json!({ "media_id": format!("{}{seq:08X}.{ext}", actual[..24].to_ascii_uppercase()) }),
        UploadKind::MediaUrl => json!({ "media_url": format!("{}media/{}.{ext}", ctx.base_uri, &actual[..32]) }),
    };
    Ok(Reply::ok(&answer))
}
