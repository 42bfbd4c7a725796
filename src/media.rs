//! Media uploads (`v3/merchant/media/upload`, `.../video_upload` and the like), the PHP SDK's `Util\MediaUtil`:
//! a `multipart/form-data` body whose `meta` part alone is signed.

use std::fmt;
use std::path::Path;

use bytes::Bytes;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::crypto::hex_lower;
use crate::error::{Error, Result};
use crate::formatter::Formatter;

/// A file to upload and the `meta` JSON that describes it.
///
/// By default `meta` is `{"filename":"<name>","sha256":"<hex of the content>"}`; endpoints with another meta schema
/// take [`with_meta`](Self::with_meta).
///
/// ```
/// use wechatpay::MediaUpload;
///
/// let media = MediaUpload::new("logo.png", b"not really a png".to_vec());
/// assert_eq!(media.meta(), format!(r#"{{"filename":"logo.png","sha256":"{}"}}"#, media.sha256_hex()));
/// assert!(media.content_type().starts_with("multipart/form-data; boundary="));
/// ```
#[derive(Clone)]
pub struct MediaUpload {
    filename: String,
    content: Bytes,
    meta: String,
    sha256: String,
    boundary: String,
}

impl MediaUpload {
    /// An upload of `content` named `filename`, with the default meta.
    ///
    /// ```
    /// use wechatpay::MediaUpload;
    ///
    /// let media = MediaUpload::new("logo.png", &b"\x89PNG\r\n"[..]);
    /// assert!(media.meta().contains(r#""filename":"logo.png""#));
    /// ```
    pub fn new(filename: impl Into<String>, content: impl Into<Bytes>) -> Self {
        let filename = filename.into();
        let content = content.into();
        let sha256 = hex_lower(&Sha256::digest(&content));
        let meta = serde_json::json!({ "filename": filename, "sha256": sha256 }).to_string();
        // A nonce of 32 characters cannot fail to generate unless the OS has no randomness; fall back to a fixed one
        // that is still very unlikely to occur in the content.
        let boundary = Formatter::nonce(32).unwrap_or_else(|_| "wechatpay-sdk-rust-form-boundary0".to_owned());
        MediaUpload { filename, content, meta, sha256, boundary }
    }

    /// Reads a file (PHP `new MediaUtil('file:///path/to/image.jpg')`); a `file://` prefix is accepted.
    ///
    /// ```
    /// let media = wechatpay::MediaUpload::from_file("tests/fixtures/merchant_certificate.pem")?;
    /// assert!(media.meta().contains("merchant_certificate.pem"));
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let path = path.to_str().and_then(|text| text.strip_prefix("file://")).map(Path::new).unwrap_or(path);
        let content = std::fs::read(path)
            .map_err(|err| Error::invalid("media file", format!("{} cannot be read: {err}", path.display())))?;
        let filename = path.file_name().and_then(|name| name.to_str()).unwrap_or("file").to_owned();
        Ok(Self::new(filename, content))
    }

    /// Replaces the `meta` JSON, for endpoints whose meta has other fields (e.g. `bank_type`).
    ///
    /// ```
    /// use serde_json::json;
    /// use wechatpay::MediaUpload;
    ///
    /// let media = MediaUpload::new("card.jpg", vec![1, 2, 3]);
    /// let sha256 = media.sha256_hex();
    /// let media = media.with_meta(&json!({"bank_type": "CMB", "filename": "card.jpg", "sha256": sha256}));
    /// assert!(media.meta().contains("CMB"));
    /// ```
    pub fn with_meta(mut self, meta: &Value) -> Self {
        self.meta = meta.to_string();
        self
    }

    /// The `meta` JSON: the part that is signed.
    ///
    /// ```
    /// let media = wechatpay::MediaUpload::new("a.jpg", &b"abc"[..]);
    /// assert_eq!(
    ///     media.meta(),
    ///     r#"{"filename":"a.jpg","sha256":"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"}"#,
    /// );
    /// ```
    pub fn meta(&self) -> &str {
        &self.meta
    }

    /// The lower-case hex SHA-256 of the content.
    ///
    /// ```
    /// let media = wechatpay::MediaUpload::new("a.jpg", &b"abc"[..]);
    /// assert_eq!(media.sha256_hex(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    /// ```
    pub fn sha256_hex(&self) -> String {
        self.sha256.clone()
    }

    /// The `Content-Type` header for the form.
    ///
    /// ```
    /// use wechatpay::MediaUpload;
    ///
    /// // Every upload draws its own random boundary.
    /// let (a, b) = (MediaUpload::new("a.jpg", vec![1]), MediaUpload::new("a.jpg", vec![1]));
    /// assert!(a.content_type().starts_with("multipart/form-data; boundary="));
    /// assert_ne!(a.content_type(), b.content_type());
    /// ```
    pub fn content_type(&self) -> String {
        format!("multipart/form-data; boundary={}", self.boundary)
    }

    /// The whole form, as sent.
    ///
    /// ```
    /// let media = wechatpay::MediaUpload::new("logo.png", &b"PNGDATA"[..]);
    /// let boundary = media.content_type().rsplit_once("boundary=").unwrap().1.to_owned();
    /// let body = String::from_utf8(media.to_body().to_vec()).unwrap();
    /// assert!(body.starts_with(&format!("--{boundary}\r\nContent-Disposition: form-data; name=\"meta\"")));
    /// assert!(body.contains("filename=\"logo.png\"\r\nContent-Type: image/png\r\n\r\nPNGDATA\r\n"));
    /// assert!(body.ends_with(&format!("--{boundary}--\r\n")));
    /// ```
    pub fn to_body(&self) -> Bytes {
        let filename = self.filename.replace('"', "%22").replace(['\r', '\n'], "");
        let mut body = Vec::with_capacity(self.content.len() + self.meta.len() + 400);
        let boundary = &self.boundary;
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"meta\"\r\nContent-Type: application/json\r\n\r\n{}\r\n",
                self.meta
            )
            .as_bytes(),
        );
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\nContent-Type: {}\r\n\r\n",
                file_content_type(&self.filename)
            )
            .as_bytes(),
        );
        body.extend_from_slice(&self.content);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        Bytes::from(body)
    }
}

impl fmt::Debug for MediaUpload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MediaUpload").field("filename", &self.filename).field("bytes", &self.content.len()).finish()
    }
}

fn file_content_type(filename: &str) -> &'static str {
    let extension = filename.rsplit_once('.').map(|(_, ext)| ext.to_ascii_lowercase()).unwrap_or_default();
    match extension.as_str() {
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "bmp" => "image/bmp",
        "gif" => "image/gif",
        "mp4" | "m4v" => "video/mp4",
        "avi" => "video/x-msvideo",
        "wmv" => "video/x-ms-wmv",
        "mpeg" | "mpg" => "video/mpeg",
        "mov" => "video/quicktime",
        "mkv" => "video/x-matroska",
        "flv" | "f4v" => "video/x-flv",
        "rmvb" => "application/vnd.rn-realmedia-vbr",
        "pdf" => "application/pdf",
        "csv" => "text/csv",
        _ => "application/octet-stream",
    }
}
