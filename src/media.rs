//! Media uploads (`v3/merchant/media/upload`, `.../video_upload` and the like), the PHP SDK's `Util\MediaUtil`:
//! a `multipart/form-data` body whose `meta` part alone is signed.
//!
//! The content is never held whole in memory unless it was given as bytes: a file or a reader is hashed in a first
//! pass when the upload is made and streamed in a second pass when it is sent, re-hashed on the way so that a file
//! changed in between fails the upload instead of sending content that does not match its signed `meta`.

use std::fmt;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::crypto::hex_lower;
use crate::error::{Error, Result};
use crate::formatter::Formatter;

/// How much of the content is read, hashed and sent at a time.
const CHUNK: usize = 64 * 1024;

/// A file to upload and the `meta` JSON that describes it.
///
/// By default `meta` is `{"filename":"<name>","sha256":"<hex of the content>"}`; endpoints with another meta schema
/// take [`with_meta`](Self::with_meta). The file part's `Content-Type` follows the name's extension (`.png` is
/// `image/png`, `.mp4` is `video/mp4`, ...; [`with_content_type`](Self::with_content_type) overrides it).
///
/// Where the content comes from:
/// - [`new`](Self::new): bytes already in memory;
/// - [`from_file`](Self::from_file): a path, hashed now and streamed from disk when sent (PHP `new MediaUtil($path)`);
/// - [`from_reader`](Self::from_reader): any `Read + Seek` (an open file, a cursor), hashed now, rewound and
///   streamed when sent;
/// - [`from_stream`](Self::from_stream): any `Read` that cannot be rewound (a socket, a pipe, a decoder), copied to
///   a private temporary file while it is hashed (PHP's `CachingStream` does the same), then streamed from there.
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
    source: Source,
    len: u64,
    sha256: String,
    meta: String,
    /// Why the meta given to `with_meta` cannot be sent, reported when the upload is made.
    meta_error: Option<Box<str>>,
    file_content_type: String,
    file_field: String,
    fields: Vec<(String, String)>,
    boundary: String,
}

/// Where the content is read from when the form is sent. Cloning an upload never copies its content.
#[derive(Clone)]
enum Source {
    Memory(Bytes),
    /// Opened again for every send.
    File(PathBuf),
    /// A private temporary copy of a stream, removed with the last clone of the upload.
    Spooled(Arc<tempfile::TempPath>),
    /// Rewound to `start` for every send; sends of clones take turns.
    Reader(Arc<Mutex<SeekableReader>>),
}

/// `Read + Seek` as one object-safe trait.
trait ReadSeek: Read + Seek + Send {}
impl<T: Read + Seek + Send> ReadSeek for T {}

struct SeekableReader {
    reader: Box<dyn ReadSeek>,
    start: u64,
}

impl MediaUpload {
    /// An upload of `content` named `filename`, with the default meta.
    ///
    /// ```
    /// use wechatpay::MediaUpload;
    ///
    /// let media = MediaUpload::new("logo.png", &b"\x89PNG\r\n"[..]);
    /// assert!(media.meta().contains(r#""filename":"logo.png""#));
    /// assert_eq!(media.len(), 6);
    /// ```
    pub fn new(filename: impl Into<String>, content: impl Into<Bytes>) -> Self {
        let content = content.into();
        let sha256 = hex_lower(&Sha256::digest(&content));
        Self::with_source(filename.into(), Source::Memory(content.clone()), content.len() as u64, sha256)
    }

    /// Hashes a file now and streams it from disk when the upload is sent (PHP `new MediaUtil('file:///path')`); a
    /// `file://` prefix is accepted. The file must not change in between: if it does, sending fails with
    /// [`Error::Transport`] instead of uploading content that does not match its `meta`.
    ///
    /// ```
    /// let media = wechatpay::MediaUpload::from_file("tests/fixtures/merchant_certificate.pem")?;
    /// assert!(media.meta().contains("merchant_certificate.pem"));
    /// assert_eq!(media.len(), std::fs::metadata("tests/fixtures/merchant_certificate.pem").unwrap().len());
    ///
    /// let err = wechatpay::MediaUpload::from_file("no/such/video.mp4").unwrap_err();
    /// assert!(err.to_string().contains("no/such/video.mp4"));
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let path = path.to_str().and_then(|text| text.strip_prefix("file://")).map(Path::new).unwrap_or(path);
        let cannot_read =
            |err: io::Error| Error::invalid("media file", format!("{} cannot be read: {err}", path.display()));
        let mut file = File::open(path).map_err(cannot_read)?;
        let (len, sha256) = hash(&mut file).map_err(cannot_read)?;
        let filename = path.file_name().and_then(|name| name.to_str()).unwrap_or("file").to_owned();
        Ok(Self::with_source(filename, Source::File(path.to_owned()), len, sha256))
    }

    /// Hashes a seekable reader from its current position to its end, then rewinds it; it is read again from that
    /// position each time the upload is sent (PHP `new MediaUtil($name, $stream)` with a seekable stream).
    /// `filename` names the file in `meta` and sets its content type.
    ///
    /// ```
    /// use std::io::Cursor;
    /// use wechatpay::MediaUpload;
    ///
    /// let media = MediaUpload::from_reader("clip.mp4", Cursor::new(b"not really a video".to_vec()))?;
    /// assert_eq!(media.sha256_hex(), MediaUpload::new("clip.mp4", &b"not really a video"[..]).sha256_hex());
    /// assert_eq!(media.file_content_type(), "video/mp4");
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn from_reader(filename: impl Into<String>, reader: impl Read + Seek + Send + 'static) -> Result<Self> {
        let filename = filename.into();
        let mut reader: Box<dyn ReadSeek> = Box::new(reader);
        let cannot_read = |err: io::Error| Error::invalid("media reader", format!("{filename} cannot be read: {err}"));
        let start = reader.stream_position().map_err(cannot_read)?;
        let (len, sha256) = hash(&mut reader).map_err(cannot_read)?;
        let source = Source::Reader(Arc::new(Mutex::new(SeekableReader { reader, start })));
        Ok(Self::with_source(filename, source, len, sha256))
    }

    /// Reads a stream that cannot be rewound to its end, hashing it while copying it to a private temporary file
    /// (never to memory), and uploads from that copy; the copy is removed when the last clone of the upload is
    /// dropped. For sockets, pipes and decoders; prefer [`from_file`](Self::from_file) for files.
    ///
    /// ```
    /// use wechatpay::MediaUpload;
    ///
    /// let stdin_like: &[u8] = b"bytes from a pipe";
    /// let media = MediaUpload::from_stream("card.jpg", stdin_like)?;
    /// assert_eq!(media.len(), 17);
    /// assert_eq!(media.file_content_type(), "image/jpeg");
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn from_stream(filename: impl Into<String>, mut reader: impl Read) -> Result<Self> {
        let filename = filename.into();
        let failed = |what: &str, err: io::Error| {
            Error::invalid("media stream", format!("{filename} cannot be {what} a temporary file: {err}"))
        };
        let mut spool = tempfile::NamedTempFile::new().map_err(|err| failed("copied to", err))?;
        let (mut digest, mut len, mut buffer) = (Sha256::new(), 0u64, vec![0u8; CHUNK]);
        loop {
            let read = match reader.read(&mut buffer) {
                Ok(0) => break,
                Ok(read) => read,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(err) => return Err(failed("read into", err)),
            };
            digest.update(&buffer[..read]);
            spool.write_all(&buffer[..read]).map_err(|err| failed("copied to", err))?;
            len += read as u64;
        }
        spool.flush().map_err(|err| failed("copied to", err))?;
        let source = Source::Spooled(Arc::new(spool.into_temp_path()));
        Ok(Self::with_source(filename, source, len, hex_lower(&digest.finalize())))
    }

    fn with_source(filename: String, source: Source, len: u64, sha256: String) -> Self {
        let meta = serde_json::json!({ "filename": filename, "sha256": sha256 }).to_string();
        // A nonce of 32 characters cannot fail to generate unless the OS has no randomness; fall back to a fixed one
        // that is still very unlikely to occur in the content.
        let boundary = Formatter::nonce(32).unwrap_or_else(|_| "wechatpay-sdk-rust-form-boundary0".to_owned());
        let file_content_type = file_content_type(&filename).to_owned();
        MediaUpload {
            filename,
            source,
            len,
            sha256,
            meta,
            meta_error: None,
            file_content_type,
            file_field: "file".to_owned(),
            fields: Vec::new(),
            boundary,
        }
    }

    /// Replaces the `meta` JSON, for endpoints whose meta has other fields (e.g. `bank_type`). These exact bytes are
    /// sent as the `meta` part and signed.
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
        match crate::util::json::to_vec(meta).map(String::from_utf8) {
            Ok(Ok(meta)) => (self.meta, self.meta_error) = (meta, None),
            Ok(Err(_)) => self.meta_error = Some("the meta is not UTF-8".into()),
            Err(reason) => self.meta_error = Some(format!("the meta does not serialise: {reason}").into()),
        }
        self
    }

    /// Fails if the meta given to [`with_meta`](Self::with_meta) cannot be sent.
    pub(crate) fn check_meta(&self) -> Result<()> {
        match &self.meta_error {
            Some(reason) => Err(Error::invalid("meta", reason)),
            None => Ok(()),
        }
    }

    /// Names the file part (default `file`), for the endpoints that call it otherwise, e.g. `submission_file` of
    /// `v3/mch-manage/submission-files/sub-mchid/{sub_mchid}/upload`.
    ///
    /// ```
    /// let media = wechatpay::MediaUpload::new("id.png", vec![1, 2, 3]).with_file_field("submission_file");
    /// assert!(String::from_utf8_lossy(&media.to_body()?).contains("name=\"submission_file\"; filename=\"id.png\""));
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn with_file_field(mut self, name: impl Into<String>) -> Self {
        self.file_field = name.into();
        self
    }

    /// Adds a text part to the form (sent after `meta`, before the file; not signed), for the endpoints that take
    /// other form fields, e.g. `item_id` and `manage_record_id`.
    ///
    /// ```
    /// let media = wechatpay::MediaUpload::new("id.png", vec![1]).with_field("item_id", "56");
    /// assert!(String::from_utf8_lossy(&media.to_body()?).contains("name=\"item_id\"\r\n\r\n56\r\n"));
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn with_field(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.fields.push((name.into(), value.into()));
        self
    }

    /// Replaces the file part's `Content-Type` (by default it follows the file name's extension).
    ///
    /// ```
    /// let media = wechatpay::MediaUpload::new("scan", vec![1, 2, 3]).with_content_type("image/jpeg");
    /// assert_eq!(media.file_content_type(), "image/jpeg");
    /// ```
    pub fn with_content_type(mut self, content_type: impl Into<String>) -> Self {
        self.file_content_type = content_type.into();
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

    /// The file name sent in the form.
    ///
    /// ```
    /// let media = wechatpay::MediaUpload::from_file("file://tests/fixtures/merchant_certificate.pem")?;
    /// assert_eq!(media.filename(), "merchant_certificate.pem");
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn filename(&self) -> &str {
        &self.filename
    }

    /// The content's length in bytes.
    ///
    /// ```
    /// assert_eq!(wechatpay::MediaUpload::new("a.jpg", vec![0; 10]).len(), 10);
    /// ```
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the content is empty (WeChat Pay refuses empty files).
    ///
    /// ```
    /// assert!(wechatpay::MediaUpload::new("a.jpg", Vec::new()).is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The `Content-Type` of the file part.
    ///
    /// ```
    /// assert_eq!(wechatpay::MediaUpload::new("a.PNG", vec![1]).file_content_type(), "image/png");
    /// assert_eq!(wechatpay::MediaUpload::new("a.bin", vec![1]).file_content_type(), "application/octet-stream");
    /// ```
    pub fn file_content_type(&self) -> &str {
        &self.file_content_type
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

    /// The length of the whole form, as sent (its `Content-Length`).
    ///
    /// ```
    /// let media = wechatpay::MediaUpload::new("logo.png", vec![0; 1000]);
    /// assert_eq!(media.content_length(), media.to_body()?.len() as u64);
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn content_length(&self) -> u64 {
        (self.head().len() + self.tail().len()) as u64 + self.len
    }

    /// Writes the whole form, as sent, into `writer`, reading the content in chunks; returns the bytes written.
    ///
    /// ```
    /// let media = wechatpay::MediaUpload::from_file("tests/fixtures/merchant_certificate.pem")?;
    /// let mut form = Vec::new();
    /// assert_eq!(media.write_form(&mut form)?, media.content_length());
    /// assert!(form.ends_with(b"--\r\n"));
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn write_form(&self, writer: &mut (impl Write + ?Sized)) -> Result<u64> {
        let failed =
            |err: io::Error| Error::invalid("media form", format!("{} cannot be written: {err}", self.filename));
        writer.write_all(self.head().as_bytes()).map_err(failed)?;
        self.read_content(&mut |chunk| writer.write_all(chunk)).map_err(|err| match err {
            ContentError::Read(err) => Error::invalid("media file", format!("{} cannot be read: {err}", self.filename)),
            ContentError::Changed(reason) => Error::invalid("media file", reason),
            ContentError::Sink(err) => failed(err),
        })?;
        writer.write_all(self.tail().as_bytes()).map_err(failed)?;
        Ok(self.content_length())
    }

    /// The whole form, as sent, in memory: for small uploads and tests (sending streams it instead).
    ///
    /// ```
    /// let media = wechatpay::MediaUpload::new("logo.png", &b"PNGDATA"[..]);
    /// let boundary = media.content_type().rsplit_once("boundary=").unwrap().1.to_owned();
    /// let body = String::from_utf8(media.to_body()?.to_vec()).unwrap();
    /// assert!(body.starts_with(&format!("--{boundary}\r\nContent-Disposition: form-data; name=\"meta\"")));
    /// assert!(body.contains("filename=\"logo.png\"\r\nContent-Type: image/png\r\n\r\nPNGDATA\r\n"));
    /// assert!(body.ends_with(&format!("--{boundary}--\r\n")));
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn to_body(&self) -> Result<Bytes> {
        self.check_meta()?;
        let mut body = Vec::with_capacity(usize::try_from(self.content_length()).unwrap_or(0));
        self.write_form(&mut body)?;
        Ok(Bytes::from(body))
    }

    /// Everything before the content: the `meta` part, the other fields and the file part's headers.
    fn head(&self) -> String {
        let boundary = &self.boundary;
        let quoted = |text: &str| text.replace('"', "%22").replace(['\r', '\n'], "");
        let mut head = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"meta\"\r\nContent-Type: application/json\r\n\r\n{}\r\n",
            self.meta
        );
        for (name, value) in &self.fields {
            head.push_str(&format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{}\"\r\n\r\n{value}\r\n",
                quoted(name)
            ));
        }
        head.push_str(&format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{}\"; filename=\"{}\"\r\nContent-Type: {}\r\n\r\n",
            quoted(&self.file_field),
            quoted(&self.filename),
            self.file_content_type.replace(['\r', '\n'], ""),
        ));
        head
    }

    fn tail(&self) -> String {
        format!("\r\n--{}--\r\n", self.boundary)
    }

    /// Reads the content from its start in chunks, hashing it again: content that no longer matches the first pass
    /// (a file changed since) fails at the end, before the form's last bytes are sent.
    fn read_content(&self, sink: &mut dyn FnMut(&[u8]) -> io::Result<()>) -> std::result::Result<(), ContentError> {
        let mut check = |reader: &mut dyn Read| -> std::result::Result<(), ContentError> {
            let (mut digest, mut len, mut buffer) = (Sha256::new(), 0u64, vec![0u8; CHUNK]);
            loop {
                let read = match reader.read(&mut buffer) {
                    Ok(0) => break,
                    Ok(read) => read,
                    Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                    Err(err) => return Err(ContentError::Read(err)),
                };
                len += read as u64;
                if len > self.len {
                    break;
                }
                digest.update(&buffer[..read]);
                sink(&buffer[..read]).map_err(ContentError::Sink)?;
            }
            if len != self.len || hex_lower(&digest.finalize()) != self.sha256 {
                return Err(ContentError::Changed(format!(
                    "{} changed after it was hashed ({} bytes then, {len} now or a different SHA-256): its meta no \
                     longer matches; make the upload again",
                    self.filename, self.len
                )));
            }
            Ok(())
        };
        match &self.source {
            Source::Memory(bytes) => {
                for chunk in bytes.chunks(CHUNK) {
                    sink(chunk).map_err(ContentError::Sink)?;
                }
                Ok(())
            }
            Source::File(path) => check(&mut File::open(path).map_err(ContentError::Read)?),
            Source::Spooled(path) => check(&mut File::open(path.as_ref() as &Path).map_err(ContentError::Read)?),
            Source::Reader(shared) => {
                let mut guard = shared.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                let SeekableReader { reader, start } = &mut *guard;
                reader.seek(SeekFrom::Start(*start)).map_err(ContentError::Read)?;
                check(reader)
            }
        }
    }

    /// The form as a streaming request body of known length, read on a blocking thread of the current Tokio
    /// runtime. A failure to read the content ends the body with an error, kept in the returned [`UploadProgress`].
    pub(crate) fn into_request_body(self) -> (reqwest::Body, UploadProgress) {
        let progress =
            UploadProgress { shared: Arc::new(Mutex::new(Progress::default())), total: self.content_length() };
        let (sender, receiver) = tokio::sync::mpsc::channel::<io::Result<Bytes>>(4);
        let remaining = self.content_length();
        let shared = Arc::clone(&progress.shared);
        tokio::task::spawn_blocking(move || {
            let send = |chunk: Bytes| -> io::Result<()> {
                let len = chunk.len() as u64;
                sender
                    .blocking_send(Ok(chunk))
                    .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the request was dropped"))?;
                lock(&shared).sent += len;
                Ok(())
            };
            let result = send(Bytes::from(self.head()))
                .map_err(ContentError::Sink)
                .and_then(|()| self.read_content(&mut |chunk| send(Bytes::copy_from_slice(chunk))))
                .and_then(|()| send(Bytes::from(self.tail())).map_err(ContentError::Sink));
            let reason = match result {
                Ok(()) | Err(ContentError::Sink(_)) => return,
                Err(ContentError::Read(err)) => format!("{} could not be read: {err}", self.filename),
                Err(ContentError::Changed(reason)) => reason,
            };
            lock(&shared).failure = Some(reason.clone());
            let _ = sender.blocking_send(Err(io::Error::other(reason)));
        });
        (reqwest::Body::wrap(FormBody { receiver, remaining }), progress)
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

enum ContentError {
    Read(io::Error),
    /// The content no longer matches its first pass.
    Changed(String),
    /// The destination refused the bytes (the request ended).
    Sink(io::Error),
}

/// How far a streamed upload got, and why it stopped if its content failed.
#[derive(Clone)]
pub(crate) struct UploadProgress {
    shared: Arc<Mutex<Progress>>,
    total: u64,
}

#[derive(Default)]
struct Progress {
    sent: u64,
    failure: Option<String>,
}

impl UploadProgress {
    /// Why the content could not be sent, with how far it got, if reading it failed.
    pub(crate) fn failure(&self) -> Option<String> {
        let progress = lock(&self.shared);
        let reason = progress.failure.as_ref()?;
        Some(format!(
            "the upload stopped after {} of {} bytes: {reason}; WeChat Pay never processes an incomplete request, \
             so fix that and send it again",
            progress.sent, self.total
        ))
    }
}

/// The form, chunk by chunk from the reading thread, with its exact length (so `Content-Length` is sent).
struct FormBody {
    receiver: tokio::sync::mpsc::Receiver<io::Result<Bytes>>,
    remaining: u64,
}

impl http_body::Body for FormBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<std::result::Result<http_body::Frame<Bytes>, io::Error>>> {
        if self.remaining == 0 {
            return Poll::Ready(None);
        }
        match self.receiver.poll_recv(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Some(Ok(chunk))) => {
                self.remaining = self.remaining.saturating_sub(chunk.len() as u64);
                Poll::Ready(Some(Ok(http_body::Frame::data(chunk))))
            }
            Poll::Ready(Some(Err(err))) => Poll::Ready(Some(Err(err))),
            Poll::Ready(None) => Poll::Ready(Some(Err(io::Error::other("the upload's reader stopped early")))),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.remaining == 0
    }

    fn size_hint(&self) -> http_body::SizeHint {
        http_body::SizeHint::with_exact(self.remaining)
    }
}

/// The length and lower-case hex SHA-256 of what `reader` yields to its end.
fn hash(reader: &mut dyn Read) -> io::Result<(u64, String)> {
    let (mut digest, mut len, mut buffer) = (Sha256::new(), 0u64, vec![0u8; CHUNK]);
    loop {
        match reader.read(&mut buffer) {
            Ok(0) => return Ok((len, hex_lower(&digest.finalize()))),
            Ok(read) => {
                digest.update(&buffer[..read]);
                len += read as u64;
            }
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(err) => return Err(err),
        }
    }
}

impl fmt::Debug for MediaUpload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let source = match &self.source {
            Source::Memory(_) => "memory",
            Source::File(_) => "file",
            Source::Spooled(_) => "temporary copy",
            Source::Reader(_) => "reader",
        };
        f.debug_struct("MediaUpload")
            .field("filename", &self.filename)
            .field("bytes", &self.len)
            .field("from", &source)
            .finish()
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
        "xls" => "application/vnd.ms-excel",
        "xlsx" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "zip" => "application/zip",
        "txt" => "text/plain",
        _ => "application/octet-stream",
    }
}
