//! Streaming downloads: bill files, merchant-service images and overseas statements are read as they arrive and
//! decrypted, decompressed and hashed on the way into a writer or a file, never held whole in memory.
//!
//! The request goes through the same signing and transport as every other one (one pool, the SDK's I/O runtime);
//! only the answer's body is read differently: a producer task on the I/O runtime reads it chunk by chunk into a
//! small bounded channel (so a slow writer slows the connection, not memory), and the consumer (the caller's
//! thread for the blocking forms, the caller's future or an I/O task for the async ones) does the rest.

use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use sha1::{Digest as _, Sha1};
use tokio::io::{AsyncWrite, AsyncWriteExt as _};
use zeroize::Zeroizing;

use crate::client::{Core, Prepared, StreamCheck, Streaming};
use crate::crypto::gcm_stream::GcmDecryptor;
use crate::crypto::hex_lower;
use crate::error::{Error, Result, VerificationFailure};
use crate::runtime::{ResponseFuture, block_here as wait, on_io_thread};

/// How many chunks of an answer may wait between the connection and the consumer.
const IN_FLIGHT: usize = 8;
/// The most of a chunk an async consumer decodes before writing out (bounds gzip's expansion per step).
const ASYNC_SLICE: usize = 8 * 1024;
/// The buffer in front of a file target.
const FILE_BUFFER: usize = 256 * 1024;

/// What a streaming download wrote, and how it was checked.
///
/// ```
/// # let server = wechatpay_mock::Server::builder()
/// #     .identities(wechatpay_mock::Identities::shared().unwrap()).start_blocking().unwrap();
/// # let ids = server.identities();
/// # let instance = wechatpay::Builder::factory(serde_json::json!({
/// #     "mchid": ids.mchid, "serial": ids.merchant.serial, "privateKey": ids.merchant.private_key_pem,
/// #     "certs": {ids.platform.serial.clone(): ids.platform.certificate_pem}, "base_uri": server.base_uri(),
/// # }))?;
/// let apply = instance.v3().bill().tradebill().get(serde_json::json!({"query": {"bill_date": "2024-01-02"}}))?;
/// let downloaded = wechatpay::Bill::from_response(&apply)?.download(&instance, &mut std::io::sink())?;
/// assert!(downloaded.verified());
/// assert_eq!(downloaded.sha1_hex(), apply.json::<serde_json::Value>()?["hash_value"]);
/// # Ok::<(), wechatpay::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Downloaded {
    bytes: u64,
    sha1: String,
    files: usize,
    verified: bool,
    verified_by: Option<String>,
    path: Option<PathBuf>,
    request_id: Option<String>,
}

impl Downloaded {
    /// The bytes written (decrypted and decompressed).
    ///
    /// ```
    /// # let server = wechatpay_mock::Server::builder()
    /// #     .identities(wechatpay_mock::Identities::shared().unwrap()).start_blocking().unwrap();
    /// # let ids = server.identities();
    /// # let instance = wechatpay::Builder::factory(serde_json::json!({
    /// #     "mchid": ids.mchid, "serial": ids.merchant.serial, "privateKey": ids.merchant.private_key_pem,
    /// #     "certs": {ids.platform.serial.clone(): ids.platform.certificate_pem}, "base_uri": server.base_uri(),
    /// # }))?;
    /// let mut image = Vec::new();
    /// let downloaded = instance.v3().merchant_service().images()._media_id_()
    ///     .download(serde_json::json!({"media_id": "ABC.png"}), &mut image)?;
    /// assert_eq!(downloaded.bytes(), image.len() as u64);
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// The lower-case hex SHA-1 of everything written.
    ///
    /// ```
    /// # let server = wechatpay_mock::Server::builder()
    /// #     .identities(wechatpay_mock::Identities::shared().unwrap()).start_blocking().unwrap();
    /// # let ids = server.identities();
    /// # let instance = wechatpay::Builder::factory(serde_json::json!({
    /// #     "mchid": ids.mchid, "serial": ids.merchant.serial, "privateKey": ids.merchant.private_key_pem,
    /// #     "certs": {ids.platform.serial.clone(): ids.platform.certificate_pem}, "base_uri": server.base_uri(),
    /// # }))?;
    /// let mut image = Vec::new();
    /// let downloaded = instance.v3().merchant_service().images()._media_id_()
    ///     .download(serde_json::json!({"media_id": "ABC.png"}), &mut image)?;
    /// assert_eq!(downloaded.sha1_hex().len(), 40);
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn sha1_hex(&self) -> &str {
        &self.sha1
    }

    /// How many files made it up (an encrypted fund-flow bill can come in several, written in order).
    ///
    /// ```
    /// # let server = wechatpay_mock::Server::builder()
    /// #     .identities(wechatpay_mock::Identities::shared().unwrap()).start_blocking().unwrap();
    /// # let ids = server.identities();
    /// # let instance = wechatpay::Builder::factory(serde_json::json!({
    /// #     "mchid": ids.mchid, "serial": ids.merchant.serial, "privateKey": ids.merchant.private_key_pem,
    /// #     "certs": {ids.platform.serial.clone(): ids.platform.certificate_pem}, "base_uri": server.base_uri(),
    /// # }))?;
    /// let apply = instance.v3().bill().fundflowbill().get(serde_json::json!({"query": {"bill_date": "2024-01-02"}}))?;
    /// let downloaded = wechatpay::Bill::from_response(&apply)?.download(&instance, &mut std::io::sink())?;
    /// assert_eq!(downloaded.files(), 1);
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn files(&self) -> usize {
        self.files
    }

    /// Whether every byte was checked against something WeChat Pay vouched for: the `hash_value` of a bill apply,
    /// the AEAD_AES_256_GCM tag of an encrypted bill, or a statement's signed SHA-1. `false` for unsigned images
    /// and for bills whose apply answer gives no hash (the overseas profit-sharing bills).
    ///
    /// ```
    /// # let server = wechatpay_mock::Server::builder()
    /// #     .identities(wechatpay_mock::Identities::shared().unwrap()).start_blocking().unwrap();
    /// # let ids = server.identities();
    /// # let instance = wechatpay::Builder::factory(serde_json::json!({
    /// #     "mchid": ids.mchid, "serial": ids.merchant.serial, "privateKey": ids.merchant.private_key_pem,
    /// #     "certs": {ids.platform.serial.clone(): ids.platform.certificate_pem}, "base_uri": server.base_uri(),
    /// # }))?;
    /// // WeChat Pay signs no image download: nothing vouches for its bytes.
    /// let downloaded = instance.v3().merchant_service().images()._media_id_()
    ///     .download(serde_json::json!({"media_id": "ABC.png"}), &mut std::io::sink())?;
    /// assert!(!downloaded.verified());
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn verified(&self) -> bool {
        self.verified
    }

    /// The serial of the key that verified a statement's signed SHA-1; `None` for other downloads.
    ///
    /// ```
    /// # let server = wechatpay_mock::Server::builder()
    /// #     .identities(wechatpay_mock::Identities::shared().unwrap()).start_blocking().unwrap();
    /// # let ids = server.identities();
    /// # let instance = wechatpay::Builder::factory(serde_json::json!({
    /// #     "mchid": ids.mchid, "serial": ids.merchant.serial, "privateKey": ids.merchant.private_key_pem,
    /// #     "certs": {ids.platform.serial.clone(): ids.platform.certificate_pem}, "base_uri": server.base_uri(),
    /// # }))?;
    /// let statement = instance.v3().global().statements()
    ///     .download(serde_json::json!({"query": {"date": "20240102"}}), &mut std::io::sink())?;
    /// assert_eq!(statement.verified_by(), Some(ids.platform.serial.as_str()));
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn verified_by(&self) -> Option<&str> {
        self.verified_by.as_deref()
    }

    /// Where a file target was written (it appears there, complete and checked, or not at all).
    ///
    /// ```no_run
    /// # fn demo(instance: &wechatpay::Builder, bill: &wechatpay::Bill) -> wechatpay::Result<()> {
    /// let downloaded = bill.download_to_file(instance, "bills/trade-2024-01-02.csv")?;
    /// assert_eq!(downloaded.path(), Some(std::path::Path::new("bills/trade-2024-01-02.csv")));
    /// # Ok(()) }
    /// ```
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// The `Request-ID` of the (last) download answer: quote it to WeChat Pay support.
    ///
    /// ```
    /// # let server = wechatpay_mock::Server::builder()
    /// #     .identities(wechatpay_mock::Identities::shared().unwrap()).start_blocking().unwrap();
    /// # let ids = server.identities();
    /// # let instance = wechatpay::Builder::factory(serde_json::json!({
    /// #     "mchid": ids.mchid, "serial": ids.merchant.serial, "privateKey": ids.merchant.private_key_pem,
    /// #     "certs": {ids.platform.serial.clone(): ids.platform.certificate_pem}, "base_uri": server.base_uri(),
    /// # }))?;
    /// let downloaded = instance.v3().merchant_service().images()._media_id_()
    ///     .download(serde_json::json!({"media_id": "ABC.png"}), &mut std::io::sink())?;
    /// assert!(downloaded.request_id().is_some());
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn request_id(&self) -> Option<&str> {
        self.request_id.as_deref()
    }
}

/// One file to download: the request, and what its bytes must satisfy.
pub(crate) struct Job {
    pub(crate) prepared: Prepared,
    /// Check the answer's head as the protocol says (statements); `false` when a digest from elsewhere (a bill's
    /// `hash_value`) is the check.
    pub(crate) verify_head: bool,
    pub(crate) checks: Checks,
}

/// What a downloaded file must satisfy.
pub(crate) struct Checks {
    /// What is downloaded, for errors: "the bill file of 2024-01-02 (GET /v3/billdownload/file)".
    pub(crate) what: String,
    /// The expected SHA-1 (lower-case hex) of the decrypted, decompressed file.
    pub(crate) sha1: Option<String>,
    pub(crate) gzip: bool,
    /// AES-256-GCM key and nonce of an encrypted file.
    pub(crate) decrypt: Option<(Zeroizing<[u8; 32]>, Vec<u8>)>,
}

/// Downloads `jobs` in order into `writer`, on the caller's thread.
pub(crate) fn to_writer<W: Write + ?Sized>(core: &Arc<Core>, jobs: Vec<Job>, writer: &mut W) -> Result<Downloaded> {
    if on_io_thread() {
        return Err(Error::runtime(
            "a blocking download was called on one of the SDK's own I/O threads, where it would deadlock: use the \
             _async form there",
        ));
    }
    let run = || {
        let mut total = Total::new(jobs.len());
        for job in jobs {
            let mut incoming = start(core, job.prepared, job.verify_head, &job.checks.what)?;
            let head = wait(incoming.head())?;
            let mut decoder = Decoder::new(&job.checks, Sink { inner: &mut *writer, total: &mut total.digest })?;
            while let Some(chunk) = wait(incoming.next())? {
                decoder.write(&chunk).map_err(|failure| failure.into_error(&job.checks))?;
            }
            let (_, file) = decoder.finish(&job.checks, &head, incoming.received)?;
            total.add(file, head);
        }
        writer.flush().map_err(|err| Error::Io { what: "flushing the download's writer".into(), source: err })?;
        Ok(total.finish())
    };
    // Inside a caller's multi-threaded Tokio runtime, let it move its other tasks off this thread meanwhile.
    match tokio::runtime::Handle::try_current().map(|handle| handle.runtime_flavor()) {
        Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(run),
        _ => run(),
    }
}

/// Downloads `jobs` into a temporary file beside `path`, renamed to `path` only once every check passed.
pub(crate) fn to_file(core: &Arc<Core>, jobs: Vec<Job>, path: &Path) -> Result<Downloaded> {
    let temp = temporary_beside(path)?;
    let mut out = BufWriter::with_capacity(FILE_BUFFER, temp.as_file());
    let mut downloaded = to_writer(core, jobs, &mut out)?;
    drop(out);
    keep(temp, path)?;
    downloaded.path = Some(path.to_owned());
    Ok(downloaded)
}

/// Downloads `jobs` in order into an async writer; the decoding runs in the caller's future.
pub(crate) async fn to_async_writer<W: AsyncWrite + Unpin + ?Sized>(
    core: Arc<Core>,
    jobs: Vec<Job>,
    writer: &mut W,
) -> Result<Downloaded> {
    let write_failed = |err: io::Error| Error::Io { what: "writing to the download's writer".into(), source: err };
    let mut total = Total::new(jobs.len());
    for job in jobs {
        let mut incoming = start(&core, job.prepared, job.verify_head, &job.checks.what)?;
        let head = incoming.head().await?;
        let mut decoder = Decoder::new(&job.checks, Vec::with_capacity(4 * ASYNC_SLICE))?;
        while let Some(chunk) = incoming.next().await? {
            for slice in chunk.chunks(ASYNC_SLICE) {
                decoder.write(slice).map_err(|failure| failure.into_error(&job.checks))?;
                let output = decoder.output();
                if !output.is_empty() {
                    total.update(output);
                    writer.write_all(output).await.map_err(write_failed)?;
                    output.clear();
                }
            }
        }
        let (rest, file) = decoder.finish(&job.checks, &head, incoming.received)?;
        total.update(&rest);
        writer.write_all(&rest).await.map_err(write_failed)?;
        total.add(file, head);
    }
    writer.flush().await.map_err(write_failed)?;
    Ok(total.finish())
}

/// Downloads `jobs` into a temporary file beside `path` as a task of the I/O runtime; dropping the future cancels
/// it and removes the temporary file.
pub(crate) fn to_file_async(core: Arc<Core>, jobs: Vec<Job>, path: PathBuf) -> ResponseFuture<Downloaded> {
    let task = {
        let core = Arc::clone(&core);
        async move {
            let temp = temporary_beside(&path)?;
            let mut out = FileSink(BufWriter::with_capacity(FILE_BUFFER, temp.as_file()));
            let mut downloaded = to_async_writer(core, jobs, &mut out).await?;
            drop(out);
            tokio::task::block_in_place(|| keep(temp, &path))?;
            downloaded.path = Some(path);
            Ok(downloaded)
        }
    };
    core.spawn_task(task)
}

/// Writes `bytes` to a file at `path` through a temporary file beside it, renamed once complete (Guzzle's `sink`).
pub(crate) fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    let temp = temporary_beside(path)?;
    temp.as_file()
        .write_all(bytes)
        .map_err(|err| Error::Io { what: format!("writing {}", temp.path().display()), source: err })?;
    keep(temp, path)
}

/// A hidden temporary file in `path`'s directory (so that the final rename stays on one file system).
fn temporary_beside(path: &Path) -> Result<tempfile::NamedTempFile> {
    let name = path
        .file_name()
        .ok_or_else(|| Error::invalid("download path", format!("{} names a directory, not a file", path.display())))?;
    let dir = path.parent().filter(|dir| !dir.as_os_str().is_empty()).unwrap_or(Path::new("."));
    tempfile::Builder::new()
        .prefix(&format!(".{}.", name.to_string_lossy()))
        .suffix(".part")
        .tempfile_in(dir)
        .map_err(|err| Error::Io { what: format!("creating a temporary file in {}", dir.display()), source: err })
}

/// Makes a checked temporary file durable and renames it to `path` (replacing what was there).
fn keep(temp: tempfile::NamedTempFile, path: &Path) -> Result<()> {
    temp.as_file()
        .sync_all()
        .map_err(|err| Error::Io { what: format!("writing {}", temp.path().display()), source: err })?;
    temp.persist(path).map(drop).map_err(|err| Error::Io {
        what: format!("renaming the checked download to {}", path.display()),
        source: err.error,
    })
}

/// A file as an async writer for the I/O runtime: writes that fit the buffer are copies; the others run with
/// `block_in_place` so the runtime moves its other tasks off this thread meanwhile.
struct FileSink<'a>(BufWriter<&'a std::fs::File>);

impl AsyncWrite for FileSink<'_> {
    fn poll_write(self: Pin<&mut Self>, _: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.0.capacity() - this.0.buffer().len() >= buf.len() {
            return Poll::Ready(this.0.write(buf));
        }
        Poll::Ready(tokio::task::block_in_place(|| this.0.write(buf)))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        Poll::Ready(tokio::task::block_in_place(|| this.0.flush()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_flush(cx)
    }
}

/// The whole download's digest and tally, across its files.
struct Total {
    /// Only when there are several files (with one, the file's digest is the whole's).
    digest: Option<Sha1>,
    bytes: u64,
    sha1: String,
    files: usize,
    verified: bool,
    verified_by: Option<String>,
    request_id: Option<String>,
}

impl Total {
    fn new(files: usize) -> Self {
        Total {
            digest: (files > 1).then(Sha1::new),
            bytes: 0,
            sha1: String::new(),
            files: 0,
            verified: true,
            verified_by: None,
            request_id: None,
        }
    }

    /// Feeds written bytes to the whole download's digest (when it has several files).
    fn update(&mut self, written: &[u8]) {
        if let Some(digest) = self.digest.as_mut() {
            digest.update(written);
        }
    }

    fn add(&mut self, file: FileDone, head: Head) {
        self.bytes += file.bytes;
        self.sha1 = file.sha1;
        self.files += 1;
        self.verified &= file.verified;
        if let StreamCheck::Sha1 { verified_by, .. } = head.check {
            self.verified_by = Some(verified_by);
        }
        self.request_id = head.request_id.or(self.request_id.take());
    }

    fn finish(self) -> Downloaded {
        let sha1 = match self.digest {
            Some(digest) => hex_lower(&digest.finalize()),
            None if self.files == 0 => hex_lower(&Sha1::digest(b"")),
            None => self.sha1,
        };
        Downloaded {
            bytes: self.bytes,
            sha1,
            files: self.files,
            verified: self.verified && self.files > 0,
            verified_by: self.verified_by,
            path: None,
            request_id: self.request_id,
        }
    }
}

/// The caller's writer, also feeding the whole download's digest.
struct Sink<'a, W: Write + ?Sized> {
    inner: &'a mut W,
    total: &'a mut Option<Sha1>,
}

impl<W: Write + ?Sized> Write for Sink<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let written = self.inner.write(buf)?;
        if let Some(digest) = self.total.as_mut() {
            digest.update(&buf[..written]);
        }
        Ok(written)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// A file's bytes on their way out: hashed and counted, with the writer's own failure kept apart from a
/// decompressor's complaint about its input.
struct Digest<W: Write> {
    inner: W,
    sha1: Sha1,
    bytes: u64,
    refused: Option<io::Error>,
}

impl<W: Write> Write for Digest<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self.inner.write_all(buf) {
            Ok(()) => {
                self.sha1.update(buf);
                self.bytes += buf.len() as u64;
                Ok(buf.len())
            }
            Err(err) => {
                self.refused = Some(err);
                Err(io::Error::other("the download's target refused the bytes"))
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

enum Stage<W: Write> {
    Plain(Digest<W>),
    Gzip(Box<flate2::write::MultiGzDecoder<Digest<W>>>),
}

impl<W: Write> Stage<W> {
    fn digest(&mut self) -> &mut Digest<W> {
        match self {
            Stage::Plain(digest) => digest,
            Stage::Gzip(decoder) => decoder.get_mut(),
        }
    }
}

/// Decrypts, decompresses and hashes one file's bytes as they arrive.
struct Decoder<W: Write> {
    gcm: Option<GcmDecryptor>,
    scratch: Vec<u8>,
    stage: Stage<W>,
    /// The first bytes received, to recognise a gzip file that was not announced as one.
    head: Vec<u8>,
}

/// Why a file's bytes could not be decoded.
enum Failure {
    /// The target refused them.
    Refused(io::Error),
    /// The gzip stream is broken (after this many bytes were written).
    Gzip(io::Error, u64),
}

impl Failure {
    fn into_error(self, checks: &Checks) -> Error {
        match self {
            Failure::Refused(err) => Error::Io { what: format!("writing {}", checks.what), source: err },
            Failure::Gzip(err, bytes) => Error::Integrity {
                what: format!("{} ({err})", checks.what),
                check: "gzip",
                expected: None,
                actual: None,
                bytes,
            },
        }
    }
}

/// A file decoded to its end.
struct FileDone {
    bytes: u64,
    sha1: String,
    verified: bool,
}

/// What the producer learnt from the answer's head.
struct Head {
    check: StreamCheck,
    content_length: Option<u64>,
    request_id: Option<String>,
}

impl<W: Write> Decoder<W> {
    fn new(checks: &Checks, inner: W) -> Result<Self> {
        let digest = Digest { inner, sha1: Sha1::new(), bytes: 0, refused: None };
        let stage = if checks.gzip {
            Stage::Gzip(Box::new(flate2::write::MultiGzDecoder::new(digest)))
        } else {
            Stage::Plain(digest)
        };
        let gcm = match &checks.decrypt {
            Some((key, nonce)) => Some(
                GcmDecryptor::new(key, nonce, b"")
                    .ok_or_else(|| Error::invalid("bill nonce", format!("the nonce of {} is empty", checks.what)))?,
            ),
            None => None,
        };
        Ok(Decoder { gcm, scratch: Vec::new(), stage, head: Vec::with_capacity(2) })
    }

    fn write(&mut self, chunk: &[u8]) -> std::result::Result<(), Failure> {
        if self.head.len() < 2 {
            self.head.extend(chunk.iter().take(2 - self.head.len()));
        }
        let plain = match self.gcm.as_mut() {
            Some(gcm) => {
                self.scratch.clear();
                gcm.update(chunk, &mut self.scratch);
                &self.scratch[..]
            }
            None => chunk,
        };
        let written = match &mut self.stage {
            Stage::Plain(digest) => digest.write_all(plain),
            Stage::Gzip(decoder) => decoder.write_all(plain),
        };
        written.map_err(|err| {
            let digest = self.stage.digest();
            match digest.refused.take() {
                Some(refused) => Failure::Refused(refused),
                None => Failure::Gzip(err, digest.bytes),
            }
        })
    }

    /// The decoded bytes waiting in an in-memory target.
    fn output(&mut self) -> &mut W {
        &mut self.stage.digest().inner
    }

    /// Ends the file: checks the tag, the end of the gzip stream and the digest; returns the target.
    fn finish(self, checks: &Checks, head: &Head, received: u64) -> Result<(W, FileDone)> {
        let Decoder { gcm, stage, head: first, .. } = self;
        let truncated =
            || Error::Truncated { what: checks.what.clone(), received, expected: head.content_length, source: None };
        let authenticated = gcm.is_some();
        if let Some(gcm) = gcm {
            match gcm.finish() {
                Ok(()) => {}
                Err(true) => return Err(truncated()),
                Err(false) => {
                    return Err(Error::Integrity {
                        what: checks.what.clone(),
                        check: "AEAD_AES_256_GCM tag",
                        expected: None,
                        actual: None,
                        bytes: received,
                    });
                }
            }
        }
        let digest = match stage {
            Stage::Plain(digest) => digest,
            Stage::Gzip(mut decoder) => {
                if let Err(err) = decoder.try_finish() {
                    if let Some(refused) = decoder.get_mut().refused.take() {
                        return Err(Failure::Refused(refused).into_error(checks));
                    }
                    return Err(if err.kind() == io::ErrorKind::UnexpectedEof {
                        truncated()
                    } else {
                        Failure::Gzip(err, decoder.get_ref().bytes).into_error(checks)
                    });
                }
                match decoder.finish() {
                    Ok(digest) => digest,
                    Err(_) => return Err(truncated()),
                }
            }
        };
        let Digest { inner, sha1, bytes, .. } = digest;
        let actual = hex_lower(&sha1.finalize());
        let expected = match &head.check {
            StreamCheck::Sha1 { expected, .. } => Some(expected),
            StreamCheck::Unsigned => checks.sha1.as_ref(),
        };
        if let Some(expected) = expected {
            if !expected.eq_ignore_ascii_case(&actual) {
                if let StreamCheck::Sha1 { .. } = head.check {
                    return Err(Error::Verification {
                        method: "GET".into(),
                        path: checks.what.clone(),
                        failure: VerificationFailure::DigestMismatch,
                        request_id: head.request_id.clone(),
                    });
                }
                let hint = if !checks.gzip && first == [0x1f, 0x8b] {
                    " (the file is gzip-compressed: it was applied for with tar_type=GZIP; tell the Bill with .gzip(true))"
                } else {
                    ""
                };
                return Err(Error::Integrity {
                    what: format!("{}{hint}", checks.what),
                    check: "SHA-1",
                    expected: Some(expected.to_ascii_lowercase()),
                    actual: Some(actual),
                    bytes,
                });
            }
        }
        let verified = expected.is_some() || authenticated;
        Ok((inner, FileDone { bytes, sha1: actual, verified }))
    }
}

enum Message {
    Head(Head),
    Chunk(Bytes),
    End,
    Failed(Error),
}

/// The consumer's end of a download: the answer's head, then its body chunk by chunk. Dropping it stops the
/// download.
struct Incoming {
    receiver: tokio::sync::mpsc::Receiver<Message>,
    producer: tokio::task::JoinHandle<()>,
    /// Bytes received so far, as sent.
    received: u64,
}

impl Drop for Incoming {
    fn drop(&mut self) {
        self.producer.abort();
    }
}

fn stopped() -> Error {
    Error::runtime("the SDK's I/O runtime shut down before the download finished")
}

impl Incoming {
    async fn head(&mut self) -> Result<Head> {
        match self.receiver.recv().await {
            Some(Message::Head(head)) => Ok(head),
            Some(Message::Failed(err)) => Err(err),
            _ => Err(stopped()),
        }
    }

    async fn next(&mut self) -> Result<Option<Bytes>> {
        match self.receiver.recv().await {
            Some(Message::Chunk(chunk)) => {
                self.received += chunk.len() as u64;
                Ok(Some(chunk))
            }
            Some(Message::End) => Ok(None),
            Some(Message::Failed(err)) => Err(err),
            Some(Message::Head(_)) | None => Err(stopped()),
        }
    }
}

/// Starts the request on the I/O runtime, its answer flowing into the returned [`Incoming`].
fn start(core: &Arc<Core>, prepared: Prepared, verify_head: bool, what: &str) -> Result<Incoming> {
    let (sender, receiver) = tokio::sync::mpsc::channel(IN_FLIGHT);
    let task = produce(Arc::clone(core), prepared, verify_head, what.to_owned(), sender);
    let producer = core.io()?.spawn(task).ok_or_else(|| Error::runtime("the SDK's I/O runtime has shut down"))?;
    Ok(Incoming { receiver, producer, received: 0 })
}

async fn produce(
    core: Arc<Core>,
    prepared: Prepared,
    verify_head: bool,
    what: String,
    sender: tokio::sync::mpsc::Sender<Message>,
) {
    let mut streaming = match Arc::clone(&core).open_stream_with_retries(prepared).await {
        Ok(streaming) => streaming,
        Err(err) => {
            let _ = sender.send(Message::Failed(err)).await;
            return;
        }
    };
    let check = if verify_head { core.check_stream(&streaming) } else { Ok(StreamCheck::Unsigned) };
    let head = match check {
        Ok(check) => Head { check, content_length: streaming.content_length(), request_id: streaming.request_id() },
        Err(err) => {
            let _ = sender.send(Message::Failed(err)).await;
            return;
        }
    };
    // reqwest's `content_length` shrinks as the body is read: keep what the head announced.
    let announced = head.content_length;
    if sender.send(Message::Head(head)).await.is_err() {
        return;
    }
    let mut received = 0u64;
    loop {
        let next = match streaming.idle {
            Some(idle) => tokio::time::timeout(idle, streaming.chunk()).await.ok(),
            None => Some(streaming.chunk().await),
        };
        let message = match next {
            Some(Ok(Some(chunk))) => {
                received += chunk.len() as u64;
                Message::Chunk(chunk)
            }
            Some(Ok(None)) => Message::End,
            Some(Err(err)) => Message::Failed(cut_short(&core, &streaming, &what, (received, announced), err)),
            None => Message::Failed(Error::Timeout {
                method: streaming.method.to_string(),
                url: crate::error::abbreviate(streaming.url.as_str()),
                after: streaming.idle,
            }),
        };
        let last = !matches!(message, Message::Chunk(_));
        if sender.send(message).await.is_err() || last {
            return;
        }
    }
}

/// The error for a body that stopped arriving.
fn cut_short(
    core: &Core,
    streaming: &Streaming,
    what: &str,
    lengths: (u64, Option<u64>),
    err: reqwest::Error,
) -> Error {
    let (received, expected) = lengths;
    if err.is_timeout() {
        return Error::Timeout {
            method: streaming.method.to_string(),
            url: crate::error::abbreviate(streaming.url.as_str()),
            after: Some(streaming.timeout.unwrap_or(core.config.timeout)),
        };
    }
    Error::Truncated { what: what.to_owned(), received, expected, source: Some(Box::new(err)) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checks(sha1: Option<&str>, gzip: bool) -> Checks {
        Checks { what: "the bill file".into(), sha1: sha1.map(str::to_owned), gzip, decrypt: None }
    }

    fn head() -> Head {
        Head { check: StreamCheck::Unsigned, content_length: None, request_id: None }
    }

    fn gzip(plain: &[u8]) -> Vec<u8> {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        encoder.write_all(plain).unwrap();
        encoder.finish().unwrap()
    }

    /// Feeds `input` in pieces of 7 bytes and finishes.
    fn decode(checks: &Checks, input: &[u8]) -> Result<Vec<u8>> {
        let mut decoder = Decoder::new(checks, Vec::new())?;
        for piece in input.chunks(7) {
            decoder.write(piece).map_err(|failure| failure.into_error(checks))?;
        }
        decoder.finish(checks, &head(), input.len() as u64).map(|(out, _)| out)
    }

    #[test]
    fn plain_and_gzip_files_are_checked_against_their_sha1() {
        let plain: Vec<u8> = (0..5000u32).flat_map(|i| format!("`row {i},`{}\r\n", i * 7).into_bytes()).collect();
        let sha1 = hex_lower(&Sha1::digest(&plain));
        assert_eq!(decode(&checks(Some(&sha1), false), &plain).unwrap(), plain);
        assert_eq!(decode(&checks(Some(&sha1.to_ascii_uppercase()), true), &gzip(&plain)).unwrap(), plain);
        let err = decode(&checks(Some(&"0".repeat(40)), false), &plain).unwrap_err();
        assert!(matches!(err, Error::Integrity { check: "SHA-1", .. }), "{err:?}");
        // A gzip file that was not announced as one says so.
        let err = decode(&checks(Some(&sha1), false), &gzip(&plain)).unwrap_err();
        assert!(err.to_string().contains("gzip-compressed"), "{err}");
    }

    #[test]
    fn a_gzip_stream_that_stops_short_is_truncated_and_a_broken_one_fails_its_check() {
        let plain = vec![b'x'; 100_000];
        let compressed = gzip(&plain);
        let sha1 = hex_lower(&Sha1::digest(&plain));
        for cut in [compressed.len() / 2, compressed.len() - 9, 5] {
            let err = decode(&checks(Some(&sha1), true), &compressed[..cut]).unwrap_err();
            assert!(matches!(err, Error::Truncated { .. }), "cut at {cut}: {err:?}");
        }
        let mut broken = compressed.clone();
        let last = broken.len() - 6;
        broken[last] ^= 0xFF; // the CRC-32 in the trailer
        let err = decode(&checks(Some(&sha1), true), &broken).unwrap_err();
        assert!(matches!(err, Error::Integrity { check: "gzip", .. }), "{err:?}");
        let err = decode(&checks(None, true), b"not gzip at all").unwrap_err();
        assert!(matches!(err, Error::Integrity { check: "gzip", .. }), "{err:?}");
    }

    #[test]
    fn a_target_that_refuses_the_bytes_is_an_io_error() {
        struct Full;
        impl Write for Full {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Err(io::Error::new(io::ErrorKind::StorageFull, "disk full"))
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        for gzip_it in [false, true] {
            let checks = checks(None, gzip_it);
            let input = if gzip_it { gzip(&[b'y'; 10_000]) } else { vec![b'y'; 10_000] };
            // A gzip decoder may hold its output until the end: the failure shows when writing or when finishing.
            let mut decoder = Decoder::new(&checks, Full).unwrap();
            let failure = input.chunks(1000).map(|piece| decoder.write(piece)).find_map(std::result::Result::err);
            let err = match failure {
                Some(failure) => failure.into_error(&checks),
                None => decoder.finish(&checks, &head(), input.len() as u64).map(drop).unwrap_err(),
            };
            assert!(matches!(&err, Error::Io { source, .. } if source.kind() == io::ErrorKind::StorageFull), "{err:?}");
        }
    }
}
