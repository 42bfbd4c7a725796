//! The APIv3 request pipeline shared by every node of a chain: prepare (template, options, body), sign, send
//! over one keep-alive pool, verify.

use std::future::Future;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, StatusCode};
use sha1::{Digest, Sha1};
use url::Url;

use crate::certificates::Refresher;
use crate::config::Config;
use crate::error::{Error, Result, VerificationFailure, abbreviate, shown_name};
use crate::formatter::Formatter;
use crate::media::MediaUpload;
use crate::options::{Body, Handling, Json, OPTION_KEYS, Options};
use crate::response::Response;
use crate::runtime::{DrivenRuntime, IoRuntime, ResponseFuture, driving, on_io_thread};
use crate::template::{UriTemplate, encode_component};
use crate::verifier::{SignatureHeaders, Verifier};

/// The User-Agent: SDK and version, platform, as the official SDKs send.
fn user_agent() -> String {
    format!(
        "wechatpay-sdk-rust/{} ({}; {}) reqwest/0.13",
        env!("CARGO_PKG_VERSION"),
        std::env::consts::OS,
        std::env::consts::ARCH
    )
}

/// One per `Builder::factory`: the configuration, the HTTP pools, the runtimes and the certificate refresher,
/// shared by every node.
pub(crate) struct Core {
    pub(crate) config: Config,
    /// The pool of the I/O runtime (async verbs, background refreshes, APIv2), made on first use: building a pool
    /// loads the system's root certificates, a few milliseconds a program that only blocks need not spend.
    http: OnceLock<reqwest::Client>,
    /// The pool that presents the merchant certificate (APIv2 `security` requests), made on first use.
    pub(crate) mutual_tls: OnceLock<reqwest::Client>,
    io: OnceLock<IoRuntime>,
    /// The blocking verbs' runtime and pool, made on first use.
    driven: OnceLock<Driven>,
    pub(crate) refresher: Refresher,
}

/// The runtime the blocking verbs drive from the calling thread, and its own pool: a connection's task runs on the
/// runtime that opened it, so the two runtimes never share connections.
struct Driven {
    runtime: DrivenRuntime,
    http: reqwest::Client,
}

/// An answer as it arrived, not yet verified.
pub(crate) struct Exchange {
    pub(crate) method: Method,
    pub(crate) url: Url,
    /// The request target as signed and sent: path and query.
    pub(crate) target: String,
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
    pub(crate) request_id: Option<String>,
}

impl Exchange {
    /// The path relative to `base`, without its leading `/`.
    pub(crate) fn relative_path<'a>(&'a self, base: &Url) -> &'a str {
        self.url.path().strip_prefix(base.path()).unwrap_or(self.url.path())
    }

    /// The answer as the error its status makes: [`Error::Redirect`] for a 3xx, else [`Error::Api`].
    pub(crate) fn into_api_error(self) -> Error {
        status_error(&self.method, &self.url, self.status, &self.headers, self.body)
    }

    pub(crate) fn verification_error(&self, failure: VerificationFailure) -> Error {
        Error::Verification {
            method: self.method.to_string(),
            path: self.target.clone(),
            failure,
            request_id: self.request_id.clone(),
        }
    }
}

/// A request ready to be signed and sent.
pub(crate) struct Prepared {
    pub(crate) method: Method,
    pub(crate) url: Url,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Option<RequestBody>,
    /// What the signature covers: the body, or a multipart upload's `meta` (APIv3).
    pub(crate) signed_body: Bytes,
    pub(crate) timeout: Option<Duration>,
    /// Set for APIv2 (XML) requests, which are signed when prepared and answered in XML.
    pub(crate) xml: Option<crate::client_xml::XmlExchange>,
    /// Guzzle's `debug`, `http_errors` and `sink`.
    pub(crate) handling: Handling,
}

/// What a request sends.
pub(crate) enum RequestBody {
    Bytes(Bytes),
    /// A multipart upload, streamed from its source as it is sent.
    Media(MediaUpload),
}

impl Prepared {
    pub(crate) fn url(&self) -> &str {
        self.url.as_str()
    }

    /// The path relative to the base URI, without its leading `/`.
    pub(crate) fn relative_path<'a>(&'a self, base_uri: &Url) -> &'a str {
        self.url.path().strip_prefix(base_uri.path()).unwrap_or(self.url.path())
    }

    /// A copy to send again (a retry): the body's bytes are shared, a media upload is read again from its source.
    pub(crate) fn duplicate(&self) -> Prepared {
        Prepared {
            method: self.method.clone(),
            url: self.url.clone(),
            headers: self.headers.clone(),
            body: match &self.body {
                None => None,
                Some(RequestBody::Bytes(bytes)) => Some(RequestBody::Bytes(bytes.clone())),
                Some(RequestBody::Media(media)) => Some(RequestBody::Media(media.clone())),
            },
            signed_body: self.signed_body.clone(),
            timeout: self.timeout,
            xml: self.xml.clone(),
            handling: self.handling.clone(),
        }
    }
}

/// A request signed and sent: the answer's head has arrived, its body has not been read.
struct Sent {
    method: Method,
    url: Url,
    /// The path and query as signed.
    target: String,
    timeout: Option<Duration>,
    /// Log the answer (Guzzle's `debug`).
    debug: bool,
    /// Guzzle's `http_errors`: `false` answers a 4xx/5xx as a Response, so its body is read whole too.
    http_errors: bool,
    response: reqwest::Response,
}

/// A 2xx answer whose body is read as it arrives (bill files, images, statements). This is the streaming path:
/// no limit on the body's size and no signature over the whole body (see [`Core::check_stream`]); every other
/// answer goes through [`Core::execute`], which reads the body whole before verifying it.
pub(crate) struct Streaming {
    pub(crate) method: Method,
    pub(crate) url: Url,
    pub(crate) headers: HeaderMap,
    pub(crate) timeout: Option<Duration>,
    /// Without a whole-download timeout, the longest wait for the next piece of the body (the configured timeout).
    pub(crate) idle: Option<Duration>,
    response: reqwest::Response,
}

impl Streaming {
    /// The next piece of the body; `None` at its end. A connection cut before the announced length is an error.
    pub(crate) async fn chunk(&mut self) -> std::result::Result<Option<Bytes>, reqwest::Error> {
        self.response.chunk().await
    }

    /// The `Content-Length` the answer announced, before any of the body is read (it counts down as it is).
    pub(crate) fn content_length(&self) -> Option<u64> {
        self.response.content_length()
    }

    pub(crate) fn request_id(&self) -> Option<String> {
        self.headers.get("Request-ID").and_then(|value| value.to_str().ok()).map(str::to_owned)
    }
}

/// How a streamed answer is checked, decided from its head before its body is read.
pub(crate) enum StreamCheck {
    /// WeChat Pay does not sign it (bill files, merchant-service images): a digest from elsewhere is the check.
    Unsigned,
    /// An overseas statement: its signature covers this SHA-1 (lower-case hex) of the body, checked at the end.
    Sha1 { expected: String, verified_by: String },
}

/// The most of an error answer's (4xx/5xx) body that is read and kept: WeChat Pay's are small JSON documents; a
/// proxy's HTML page or a hostile answer is cut here.
pub(crate) const ERROR_BODY_LIMIT: u64 = 64 * 1024;

/// How much of an answer's body [`read_body`] reads.
#[derive(Clone, Copy)]
pub(crate) enum BodyLimit {
    /// The whole body, refused (`None`) if it is longer than this.
    Whole(u64),
    /// At most this much of the body; the rest is left unread.
    Prefix(u64),
}

/// Reads an answer's body within `limit`: a body announced longer than a `Whole` limit is refused before any of it
/// is read, and so is one that turns out longer while it arrives. `Ok(None)` means refused.
pub(crate) async fn read_body(
    response: &mut reqwest::Response,
    limit: BodyLimit,
) -> std::result::Result<Option<Bytes>, reqwest::Error> {
    let (max, whole) = match limit {
        BodyLimit::Whole(max) => (max, true),
        BodyLimit::Prefix(max) => (max, false),
    };
    let announced = response.content_length();
    if whole && announced.is_some_and(|length| length > max) {
        return Ok(None);
    }
    let capacity = usize::try_from(announced.unwrap_or(0).min(max)).unwrap_or(0);
    // Most answers arrive as one chunk, which is kept as it is, without a copy.
    let mut single: Option<Bytes> = None;
    let mut joined = bytes::BytesMut::new();
    let mut read = 0u64;
    while let Some(chunk) = response.chunk().await? {
        read += chunk.len() as u64;
        let over = read > max;
        if over && whole {
            return Ok(None);
        }
        let chunk = if over { chunk.slice(..chunk.len() - usize::try_from(read - max).unwrap_or(0)) } else { chunk };
        match single.take() {
            None if joined.is_empty() => single = Some(chunk),
            previous => {
                if let Some(previous) = previous {
                    joined.reserve(capacity.max(previous.len() + chunk.len()));
                    joined.extend_from_slice(&previous);
                }
                joined.extend_from_slice(&chunk);
            }
        }
        if over {
            break;
        }
    }
    Ok(Some(single.unwrap_or_else(|| joined.freeze())))
}

impl Core {
    pub(crate) fn new(config: Config) -> Result<Self> {
        Ok(Core {
            config,
            http: OnceLock::new(),
            mutual_tls: OnceLock::new(),
            io: OnceLock::new(),
            driven: OnceLock::new(),
            refresher: Refresher::default(),
        })
    }

    /// The blocking verbs' runtime and pool, made on first use (as [`io`](Self::io)).
    fn driven(&self) -> Result<&Driven> {
        if let Some(driven) = self.driven.get() {
            return Ok(driven);
        }
        let runtime = DrivenRuntime::new()
            .map_err(|err| Error::runtime(format!("the SDK's runtime for blocking calls could not start: {err}")))?;
        let http = build_pool(&self.config)?;
        // Two first blocking calls may race: the loser's runtime and pool are dropped here.
        Ok(self.driven.get_or_init(|| Driven { runtime, http }))
    }

    /// The pool of the runtime this code runs on: the blocking verbs' on theirs, the I/O runtime's anywhere else.
    pub(crate) fn http(&self) -> Result<&reqwest::Client> {
        match (self.driven.get(), tokio::runtime::Handle::try_current()) {
            (Some(driven), Ok(current)) if driven.runtime.is(&current) => Ok(&driven.http),
            _ => match self.http.get() {
                Some(http) => Ok(http),
                None => {
                    let http = build_pool(&self.config)?;
                    Ok(self.http.get_or_init(|| http))
                }
            },
        }
    }

    /// The I/O runtime, started on first use. A failed start is not remembered: the next request tries again.
    pub(crate) fn io(&self) -> Result<&IoRuntime> {
        if let Some(io) = self.io.get() {
            return Ok(io);
        }
        let started = IoRuntime::new(self.config.io_threads)
            .map_err(|err| Error::runtime(format!("the SDK's I/O runtime could not start: {err}")))?;
        // Two first requests may race: the loser's runtime is shut down in the background when dropped here.
        Ok(self.io.get_or_init(|| started))
    }

    /// Expands the path, checks the options and serialises the body, once.
    pub(crate) fn prepare(&self, method: Method, template: &UriTemplate, options: Options) -> Result<Prepared> {
        let path_template = template.as_str();
        check_variables(template, &options)?;
        if crate::client_xml::is_apiv2(path_template) {
            return self.prepare_xml(method, template, options);
        }
        if options.base_uri.is_some() {
            return Err(Error::options(format!(
                "a per-request `base_uri` is for the few APIv2 endpoints WeChat Pay serves on other hosts, and \
                 {path_template} is an APIv3 path: every APIv3 endpoint is on the configured base_uri; for the backup \
                 or overseas host make a second Builder with BACKUP_BASE_URI or HK_BASE_URI (same keys)"
            )));
        }
        for (name, given) in
            [("xml", options.xml.is_some()), ("security", options.security), ("nonceless", options.nonceless)]
        {
            if given {
                return Err(Error::options(format!(
                    "`{name}` is an APIv2 option, and {path_template} is an APIv3 path"
                )));
            }
        }

        let path = template.expand(|name| options.variable(name))?;
        let url = target_url(&self.config.base_uri, &path, &options.query).map_err(|(target, err)| {
            Error::template(path_template, format!("{} is not a URL: {err}", abbreviate(&target)))
        })?;
        check_url(&url, &self.config.base_uri, path_template)?;

        let handling = Handling { redact: options.encrypt.clone(), ..options.handling };
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        let (body, signed_body) = match (options.json, options.body) {
            (Some(_), Some(_)) => return Err(Error::options("give either `json` or `body`, not both")),
            (Some(Err(reason)), None) => {
                return Err(Error::options(format!("the json body does not serialise: {reason}")));
            }
            (Some(Ok(json)), None) if !options.encrypt.is_empty() => {
                let bytes = self.encrypt_sensitive(json, &options.encrypt, &options.headers, &mut headers)?;
                headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
                (Some(RequestBody::Bytes(bytes.clone())), bytes)
            }
            (Some(Ok(json)), None) => {
                let bytes = json
                    .into_bytes()
                    .map_err(|err| Error::options(format!("the json body does not serialise: {err}")))?;
                headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
                (Some(RequestBody::Bytes(bytes.clone())), bytes)
            }
            (_, _) if !options.encrypt.is_empty() => {
                return Err(Error::options("`encrypt_fields` encrypts fields of the `json` body, and there is none"));
            }
            (None, Some(Body::Raw(bytes))) => {
                if given_content_type(&options.headers)
                    .is_some_and(|given| given.trim_start().to_ascii_lowercase().starts_with("multipart/"))
                {
                    return Err(Error::options(
                        "a multipart `body` given as bytes would be signed whole, and WeChat Pay checks the signature \
                         over its `meta` part only (401 SIGN_ERROR): build it with MediaUpload (PHP's MediaUtil) and \
                         pass that as body(media) or Options::media",
                    ));
                }
                (Some(RequestBody::Bytes(bytes.clone())), bytes)
            }
            (None, Some(Body::Media(media))) => {
                if let Some(given) = given_content_type(&options.headers) {
                    if given != media.content_type() {
                        return Err(Error::options(format!(
                            "the `Content-Type` header {given:?} is not the upload's own: a MediaUpload sets \
                             `multipart/form-data` with the boundary its form uses; drop the header or give \
                             media.content_type()"
                        )));
                    }
                }
                media.check_meta()?;
                let content_type = HeaderValue::from_str(&media.content_type())
                    .map_err(|_| Error::options("the multipart boundary is not a valid header value"))?;
                headers.insert(CONTENT_TYPE, content_type);
                headers.insert(CONTENT_LENGTH, HeaderValue::from(media.content_length()));
                let meta = Bytes::from(media.meta().to_owned());
                (Some(RequestBody::Media(media)), meta)
            }
            (None, None) => (None, Bytes::new()),
        };
        add_headers(&mut headers, &options.headers)?;
        let timeout = Some(self.request_timeout(options.timeout)?);
        Ok(Prepared { method, url, headers, body, signed_body, timeout, xml: None, handling })
    }

    /// A request's whole timeout: its own, else the configured one. Zero is refused.
    pub(crate) fn request_timeout(&self, given: Option<Duration>) -> Result<Duration> {
        match given {
            Some(timeout) if timeout.is_zero() => Err(Error::options(
                "`timeout` must be more than zero: a zero timeout fails the request before it is sent",
            )),
            Some(timeout) => Ok(timeout),
            None => Ok(self.config.timeout),
        }
    }

    /// The `json` body with its sensitive `fields` encrypted, serialised; adds `Wechatpay-Serial`
    /// unless the caller's headers name the key.
    fn encrypt_sensitive(
        &self,
        json: Json,
        fields: &[String],
        given_headers: &[(String, String)],
        headers: &mut HeaderMap,
    ) -> Result<Bytes> {
        let invalid = |err: serde_json::Error| Error::options(format!("the json body does not serialise: {err}"));
        let mut body = match json {
            Json::Value(value) => value,
            Json::Bytes(bytes) => serde_json::from_slice(&bytes).map_err(invalid)?,
        };
        let named = given_headers.iter().find(|(name, _)| name.eq_ignore_ascii_case("Wechatpay-Serial"));
        let encryptor = match named {
            Some((_, serial)) => self.config.encryptor_for(serial)?,
            None => self.config.encryptor()?,
        };
        let fields: Vec<&str> = fields.iter().map(String::as_str).collect();
        encryptor.encrypt_fields(&mut body, &fields).map_err(|err| match err {
            Error::InvalidArgument { reason, .. } => Error::options(format!("encrypt_fields: {reason}")),
            other => other,
        })?;
        let serial = HeaderValue::from_str(encryptor.serial())
            .map_err(|_| Error::config("certs", "a serial is not a valid header value"))?;
        headers.insert("Wechatpay-Serial", serial);
        crate::util::json::to_vec(&body)
            .map(Bytes::from)
            .map_err(|reason| Error::options(format!("the json body does not serialise: {reason}")))
    }

    /// A signed `GET` of a download URL from an answer (a bill's `download_url`): its path and query, exactly as
    /// given, on the configured base URI, so that a signed request never goes to a host the merchant did not
    /// configure.
    pub(crate) fn prepare_download(&self, download_url: &str, timeout: Option<Duration>) -> Result<Prepared> {
        if timeout.is_some_and(|timeout| timeout.is_zero()) {
            return Err(Error::invalid("timeout", "it must be more than zero"));
        }
        let shown = abbreviate(download_url);
        let given = Url::parse(download_url)
            .map_err(|err| Error::invalid("download_url", format!("`{shown}` is not an absolute URL: {err}")))?;
        if !matches!(given.scheme(), "https" | "http") {
            return Err(Error::invalid("download_url", format!("`{shown}` is not an http(s) URL")));
        }
        let mut target = format!("{}{}", self.config.base_uri, given.path().trim_start_matches('/'));
        if let Some(query) = given.query() {
            target.push('?');
            target.push_str(query);
        }
        let url = Url::parse(&target)
            .map_err(|err| Error::invalid("download_url", format!("{} is not a URL: {err}", abbreviate(&target))))?;
        check_url(&url, &self.config.base_uri, download_url)?;
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        Ok(Prepared {
            method: Method::GET,
            url,
            headers,
            body: None,
            signed_body: Bytes::new(),
            timeout,
            xml: None,
            handling: Handling::default(),
        })
    }

    /// Runs a prepared request on the I/O runtime and returns its future.
    pub(crate) fn spawn(self: &Arc<Self>, prepared: Prepared) -> ResponseFuture {
        self.spawn_task(Arc::clone(self).deliver(prepared))
    }

    /// A future that runs `task` on the I/O runtime once it is first polled (nothing happens before).
    pub(crate) fn spawn_task<T: Send + 'static>(
        self: &Arc<Self>,
        task: impl Future<Output = Result<T>> + Send + 'static,
    ) -> ResponseFuture<T> {
        let core = Arc::clone(self);
        ResponseFuture::lazy(move || {
            core.io()?.spawn(task).ok_or_else(|| Error::runtime("the SDK's I/O runtime has shut down"))
        })
    }

    /// Runs a prepared request and waits for it: on this thread (see [`crate::runtime`]), or for APIv2 on the I/O
    /// runtime, where its mutual-TLS pool belongs (a pool's connections run on the runtime that opened them).
    pub(crate) fn block(self: &Arc<Self>, prepared: Prepared) -> Result<Response> {
        if prepared.xml.is_some() {
            return self.block_on_io(Arc::clone(self).deliver(prepared));
        }
        self.block_on(Arc::clone(self).deliver(prepared))
    }

    /// Runs `task` and waits for it: on this thread, driving the blocking verbs' runtime, wherever this thread may
    /// leave its runtime context (no runtime, or a multi-threaded Tokio runtime, which `block_in_place` lets move
    /// its other tasks elsewhere meanwhile); inside a current-thread Tokio runtime, or with a custom [`Signer`], on
    /// the I/O runtime.
    ///
    /// [`Signer`]: crate::Signer
    pub(crate) fn block_on<T: Send + 'static>(
        &self,
        task: impl Future<Output = Result<T>> + Send + 'static,
    ) -> Result<T> {
        check_not_reentrant()?;
        // A custom Signer may open connections or timers of its own (a KMS client, say), which belong to the
        // runtime they were made on: the blocking verbs' runtime runs only while a blocking call drives it, so a
        // connection pooled there would hang the next caller that runs elsewhere. The I/O runtime always runs.
        if !self.config.signs_in_process {
            return self.block_on_io(task);
        }
        // A request's future is several kilobytes: boxed once here, it is not copied again on its way down.
        let task = Box::pin(task);
        match tokio::runtime::Handle::try_current().map(|handle| handle.runtime_flavor()) {
            Ok(tokio::runtime::RuntimeFlavor::MultiThread) => {
                tokio::task::block_in_place(|| self.driven()?.runtime.block_on(task))
            }
            Ok(_) => self.block_on_io(task),
            Err(_) => self.driven()?.runtime.block_on(task),
        }
    }

    /// Runs `task` on the I/O runtime and waits for it on this thread.
    fn block_on_io<T: Send + 'static>(&self, task: impl Future<Output = Result<T>> + Send + 'static) -> Result<T> {
        check_not_reentrant()?;
        let (sender, receiver) = std::sync::mpsc::sync_channel(1);
        let io = self.io()?;
        let shut_down = || Error::runtime("the SDK's I/O runtime has shut down");
        let task = io.spawn(task).ok_or_else(shut_down)?;
        // std's channel, not Tokio's: it may block inside any async runtime without Tokio's panic, and the work
        // happens on the SDK's threads, so the caller's runtime cannot starve it. The task is joined by another so
        // that a panic in it (a custom Signer's, say) is told apart from a shutdown.
        io.spawn(async move {
            let _ = sender.send(task.await.unwrap_or_else(|err| Err(crate::runtime::join_error(err))));
        })
        .ok_or_else(shut_down)?;
        let wait = || {
            receiver.recv().map_err(|_| Error::runtime("the SDK's I/O runtime shut down before the request finished"))
        };
        // Inside a caller's multi-threaded Tokio runtime, let it move its other tasks off this thread while we wait
        // (a custom Signer may need them); elsewhere, a plain wait.
        match tokio::runtime::Handle::try_current().map(|handle| handle.runtime_flavor()) {
            Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(wait)?,
            _ => wait()?,
        }
    }

    /// [`run`](Self::run) (with its retries), then Guzzle's `sink`: the verified body written to a file as well,
    /// through a temporary file renamed once complete.
    async fn deliver(self: Arc<Self>, mut prepared: Prepared) -> Result<Response> {
        let sink = prepared.handling.sink.take();
        let response = self.run(prepared).await?;
        if let Some(path) = sink {
            let body = response.bytes().clone();
            tokio::task::spawn_blocking(move || crate::download::write_file(&path, &body)).await.map_err(|_| {
                Error::runtime("writing the sink file was cancelled: the SDK's I/O runtime shut down")
            })??;
        }
        Ok(response)
    }

    /// Signs, sends, reads and verifies. An answer signed with an unknown serial triggers a certificate refresh
    /// (when enabled) and is verified once more.
    pub(crate) async fn execute(self: Arc<Self>, mut prepared: Prepared) -> Result<Response> {
        if let Some(exchange) = prepared.xml.take() {
            return self.execute_xml(prepared, exchange).await;
        }
        let http_errors = prepared.handling.http_errors;
        let exchange = self.exchange(prepared).await?;
        if !exchange.status.is_success() {
            if http_errors || exchange.status.is_redirection() {
                return Err(exchange.into_api_error());
            }
            return self.error_as_response(exchange);
        }
        let path = exchange.relative_path(&self.config.base_uri);
        let verifier = &*self.config.verifier;
        let mut verified = self.verify(&exchange.method, path, &exchange.headers, &exchange.body, verifier);
        if let Err(VerificationFailure::UnknownSerial(serial)) = &verified {
            if self.refresh_for_unknown_serial(serial).await {
                verified = self.verify(&exchange.method, path, &exchange.headers, &exchange.body, verifier);
            }
        }
        let verified_by = verified.map_err(|failure| exchange.verification_error(failure))?;
        Ok(Response::new(exchange.status, exchange.headers, exchange.body, verified_by).with_url(exchange.url))
    }

    /// A 4xx/5xx answer as a [`Response`] (Guzzle's `http_errors => false`): verified when it carries WeChat Pay's
    /// signature (a bad one is still an error), passed on unverified when it carries none (a proxy's page).
    fn error_as_response(&self, exchange: Exchange) -> Result<Response> {
        let verified_by = if exchange.headers.contains_key("Wechatpay-Signature") {
            let path = exchange.relative_path(&self.config.base_uri);
            let verifier = &*self.config.verifier;
            self.verify(&exchange.method, path, &exchange.headers, &exchange.body, verifier)
                .map_err(|failure| exchange.verification_error(failure))?
        } else {
            None
        };
        Ok(Response::new(exchange.status, exchange.headers, exchange.body, verified_by).with_url(exchange.url))
    }

    /// Signs and sends; returns once the answer's head has arrived.
    async fn send(&self, prepared: Prepared) -> Result<Sent> {
        let Prepared { method, url, mut headers, body, signed_body, timeout, xml: _, handling } = prepared;
        let target = match url.query() {
            Some(query) => format!("{}?{query}", url.path()),
            None => url.path().to_owned(),
        };
        let timestamp = Formatter::timestamp();
        let nonce = Formatter::nonce32()?;
        let message = Formatter::request_bytes(method.as_str(), &target, timestamp, &nonce, &signed_body);
        // The request's timeout covers a custom Signer too (a remote one can hang): what signing took is taken off
        // what the exchange may take. The built-in one is a bounded computation and needs no timer.
        let started = std::time::Instant::now();
        let signed = if self.config.signs_in_process {
            self.config.signer.sign(&message).await
        } else {
            let limit = timeout.unwrap_or(self.config.timeout);
            tokio::time::timeout(limit, self.config.signer.sign(&message)).await.map_err(|_| Error::Timeout {
                method: method.to_string(),
                url: abbreviate(url.as_str()),
                after: Some(limit),
            })?
        };
        let signature = STANDARD.encode(signed?);
        let authorization =
            Formatter::authorization(&self.config.mchid, &nonce, &signature, timestamp, &self.config.serial);
        headers.insert(
            AUTHORIZATION,
            HeaderValue::from_str(&authorization)
                .map_err(|_| Error::config("mchid", "it makes an invalid Authorization header"))?,
        );

        if handling.debug {
            let shown = match &body {
                None => crate::debug::SentBody::None,
                Some(RequestBody::Bytes(bytes)) => crate::debug::SentBody::Bytes { bytes, redact: &handling.redact },
                Some(RequestBody::Media(media)) => {
                    crate::debug::SentBody::Media { meta: &signed_body, length: media.content_length() }
                }
            };
            crate::debug::request(&method, &url, &headers, shown);
        }
        let mut request = self.http()?.request(method.clone(), url.clone()).headers(headers);
        let mut upload = None;
        match body {
            Some(RequestBody::Bytes(bytes)) => request = request.body(bytes),
            Some(RequestBody::Media(media)) => {
                let (body, progress) = media.into_request_body();
                upload = Some(progress);
                request = request.body(body);
            }
            None => {}
        }
        if let Some(timeout) = timeout {
            request = request.timeout(timeout.saturating_sub(started.elapsed()).max(Duration::from_millis(1)));
        }
        let response = request.send().await.map_err(|err| {
            // An upload whose content could not be read says so, rather than blaming the connection.
            match upload.as_ref().and_then(|upload| upload.failure()) {
                Some(reason) => Error::Transport {
                    method: method.to_string(),
                    url: abbreviate(url.as_str()),
                    reason,
                    source: Some(Box::new(err)),
                },
                None => self.transport_error(&method, &url, timeout, err),
            }
        })?;
        Ok(Sent { method, url, target, timeout, debug: handling.debug, http_errors: handling.http_errors, response })
    }

    /// Signs, sends and reads the whole answer, without judging it.
    pub(crate) async fn exchange(&self, prepared: Prepared) -> Result<Exchange> {
        let Sent { method, url, target, timeout, debug, http_errors, mut response } = self.send(prepared).await?;
        let status = response.status();
        let headers = std::mem::take(response.headers_mut());
        let body = self.read_answer(&method, &url, timeout, status, !http_errors, &mut response).await?;
        if debug {
            crate::debug::answer(&method, &url, status, &headers, &body);
        }
        let request_id = headers.get("Request-ID").and_then(|value| value.to_str().ok()).map(str::to_owned);
        Ok(Exchange { method, url, target, status, headers, body, request_id })
    }

    /// Reads an answer's body whole within `max_response_size`, or, for a 4xx/5xx that becomes an error, its first
    /// [`ERROR_BODY_LIMIT`] bytes. `errors_as_answers` (Guzzle's `http_errors => false`) reads a 4xx/5xx whole too:
    /// it is handed over as a [`Response`], never cut short.
    pub(crate) async fn read_answer(
        &self,
        method: &Method,
        url: &Url,
        timeout: Option<Duration>,
        status: StatusCode,
        errors_as_answers: bool,
        response: &mut reqwest::Response,
    ) -> Result<Bytes> {
        let limit = self.config.max_response_size;
        let announced = response.content_length();
        let read = if status.is_success() || (errors_as_answers && !status.is_redirection()) {
            read_body(response, BodyLimit::Whole(limit)).await
        } else {
            read_body(response, BodyLimit::Prefix(limit.min(ERROR_BODY_LIMIT))).await
        };
        match read.map_err(|err| self.transport_error(method, url, timeout, err))? {
            Some(body) => Ok(body),
            None => Err(Error::ResponseTooLarge {
                method: method.to_string(),
                url: abbreviate(url.as_str()),
                status: status.as_u16(),
                limit,
                announced,
            }),
        }
    }

    /// Signs and sends, and hands back a 2xx answer whose body is still to be read: the streaming path. A 4xx/5xx
    /// answer is [`Error::Api`], read up to a small bound.
    pub(crate) async fn open_stream(&self, prepared: Prepared) -> Result<Streaming> {
        // A download without a whole timeout of its own may take as long as it needs, but no single wait (for the
        // head here, for each piece of the body in the reader) may take longer than the configured timeout.
        let idle = prepared.timeout.is_none().then_some(self.config.timeout);
        let sent = match idle {
            Some(idle) => {
                let (method, url) = (prepared.method.to_string(), abbreviate(prepared.url.as_str()));
                tokio::time::timeout(idle, self.send(prepared)).await.map_err(|_| Error::Timeout {
                    method,
                    url,
                    after: Some(idle),
                })?
            }
            None => self.send(prepared).await,
        };
        let Sent { method, url, timeout, mut response, .. } = sent?;
        let status = response.status();
        let headers = std::mem::take(response.headers_mut());
        if !status.is_success() {
            let read = self.read_answer(&method, &url, timeout, status, false, &mut response);
            let body = match idle {
                Some(idle) => tokio::time::timeout(idle, read).await.map_err(|_| Error::Timeout {
                    method: method.to_string(),
                    url: abbreviate(url.as_str()),
                    after: Some(idle),
                })??,
                None => read.await?,
            };
            return Err(status_error(&method, &url, status, &headers, body));
        }
        Ok(Streaming { method, url, headers, timeout, idle, response })
    }

    /// Whether the answer to `prepared` can be checked while it streams: WeChat Pay leaves it unsigned, or signs a
    /// digest of it (overseas statements). Any other answer is signed over its whole body, so it is refused here,
    /// before anything is sent.
    pub(crate) fn streamable(&self, prepared: &Prepared) -> Result<()> {
        let path = prepared.relative_path(&self.config.base_uri);
        if is_unsigned(&prepared.method, path) || (prepared.method == Method::GET && is_statement(path)) {
            return Ok(());
        }
        Err(Error::Unsupported {
            what: format!("streaming the answer to {} /{path}", prepared.method),
            hint: "WeChat Pay signs that answer over its whole body, so it cannot be verified while it streams: use \
                   get()/request() (only bill files, merchant-service images and overseas statements stream)",
        })
    }

    /// Checks a streamed answer's head: nothing to check for unsigned downloads; for statements, the signature over
    /// the announced SHA-1, which the caller compares with the body's at the end.
    pub(crate) fn check_stream(&self, streaming: &Streaming) -> Result<StreamCheck> {
        let path = streaming.url.path().strip_prefix(self.config.base_uri.path()).unwrap_or(streaming.url.path());
        if !is_statement(path) {
            return Ok(StreamCheck::Unsigned);
        }
        let failed = |failure| Error::Verification {
            method: streaming.method.to_string(),
            path: format!("/{path}"),
            failure,
            request_id: streaming.request_id(),
        };
        let signed = SignatureHeaders::read(&streaming.headers, self.config.max_clock_skew).map_err(failed)?;
        if streaming.headers.get_all("Wechatpay-Statement-Sha1").iter().count() > 1 {
            return Err(failed(VerificationFailure::RepeatedHeader("Wechatpay-Statement-Sha1")));
        }
        let expected = match streaming.headers.get("Wechatpay-Statement-Sha1").map(|value| value.to_str()) {
            Some(Ok(digest)) if !digest.trim().is_empty() => digest.trim().to_ascii_lowercase(),
            Some(Err(_)) => return Err(failed(VerificationFailure::InvalidHeader("Wechatpay-Statement-Sha1"))),
            // Without the digest header a statement is signed over its whole body, which cannot be checked while it
            // streams.
            _ => return Err(failed(VerificationFailure::MissingHeader("Wechatpay-Statement-Sha1"))),
        };
        signed.verify(format!("{{\"sha1\":\"{expected}\"}}").as_bytes(), &*self.config.verifier).map_err(failed)?;
        let verified_by = signed.serial.to_owned();
        Ok(StreamCheck::Sha1 { expected, verified_by })
    }

    /// Verifies an answer with `verifier`: its signature headers, the 300 s window and the signature. Returns the
    /// serial that verified the answer, or `None` where WeChat Pay does not sign. `path` is relative to the base URI,
    /// without its leading `/`.
    pub(crate) fn verify(
        &self,
        method: &Method,
        path: &str,
        headers: &HeaderMap,
        body: &[u8],
        verifier: &dyn Verifier,
    ) -> Result<Option<String>, VerificationFailure> {
        if is_unsigned(method, path) {
            return Ok(None);
        }
        let signed = SignatureHeaders::read(headers, self.config.max_clock_skew)?;
        if is_statement(path) && headers.get_all("Wechatpay-Statement-Sha1").iter().count() > 1 {
            return Err(VerificationFailure::RepeatedHeader("Wechatpay-Statement-Sha1"));
        }
        let statement_digest = match headers.get("Wechatpay-Statement-Sha1").map(|value| value.to_str()) {
            Some(Ok(digest)) if is_statement(path) && !digest.trim().is_empty() => Some(digest.trim()),
            Some(Err(_)) if is_statement(path) => {
                return Err(VerificationFailure::InvalidHeader("Wechatpay-Statement-Sha1"));
            }
            _ => None,
        };
        match statement_digest {
            // Overseas statements sign a digest document instead of the (large) file; the file must match it.
            // Without the digest header they are signed over the body, as every other answer (PHP does the same).
            Some(digest) => {
                if !crate::crypto::hex_lower(&Sha1::digest(body)).eq_ignore_ascii_case(digest) {
                    return Err(VerificationFailure::DigestMismatch);
                }
                signed.verify(format!("{{\"sha1\":\"{digest}\"}}").as_bytes(), verifier)?;
            }
            None => signed.verify(body, verifier)?,
        }
        Ok(Some(signed.serial.to_owned()))
    }

    pub(crate) fn transport_error(
        &self,
        method: &Method,
        url: &Url,
        timeout: Option<Duration>,
        err: reqwest::Error,
    ) -> Error {
        let (method, shown) = (method.to_string(), abbreviate(url.as_str()));
        if let Some(reason) = tls_refusal(&err) {
            return Error::Transport { method, url: shown, reason, source: Some(Box::new(err)) };
        }
        if err.is_builder() {
            let reason = format!("the request could not be made, so it was not sent: {err}");
            return Error::Transport { method, url: shown, reason, source: Some(Box::new(err)) };
        }
        // Only a failure to connect proves the request was not sent; anything later may have reached WeChat Pay.
        if err.is_connect() {
            let reason = if err.is_timeout() {
                "connecting timed out, so the request was not sent: it is safe to retry, or to fail over to BACKUP_BASE_URI"
            } else {
                "could not connect, so the request was not sent: check base_uri, the network and any proxy, then retry"
            };
            return Error::Transport { method, url: shown, reason: reason.to_owned(), source: Some(Box::new(err)) };
        }
        if err.is_timeout() {
            return Error::Timeout { method, url: shown, after: Some(timeout.unwrap_or(self.config.timeout)) };
        }
        let reason = if err.is_body() || err.is_decode() {
            "the connection ended before the whole answer arrived"
        } else {
            "the connection failed after it was made"
        };
        let reason = format!("{reason}: the request may have reached WeChat Pay, so query it before retrying");
        Error::Transport { method, url: shown, reason, source: Some(Box::new(err)) }
    }
}

/// The URL of `path` (relative to `base`, already percent-encoded) with the `query` pairs, as `Url::parse` reads
/// `base + path + "?" + query`. The usual path is joined to the parsed base instead, which skips parsing the
/// scheme and host again (IDNA included) on every request; a path that `Url::parse` would read differently (a `?`
/// or `#` of its own, a trailing space or control character that it trims) takes the whole parse.
fn target_url(
    base: &Url,
    path: &str,
    query: &[(String, String)],
) -> std::result::Result<Url, (String, url::ParseError)> {
    let path = path.trim_start_matches('/');
    let mut encoded_query = String::new();
    for (i, (name, value)) in query.iter().enumerate() {
        if i > 0 {
            encoded_query.push('&');
        }
        encode_component(&mut encoded_query, name);
        encoded_query.push('=');
        encode_component(&mut encoded_query, value);
    }
    if path.contains(['?', '#']) || path.ends_with(|c: char| c <= ' ') || base.query().is_some() {
        let mut target = format!("{base}{path}");
        if !encoded_query.is_empty() {
            target.push(if target.contains('?') { '&' } else { '?' });
            target.push_str(&encoded_query);
        }
        return Url::parse(&target).map_err(|err| (target, err));
    }
    let mut url = base.clone();
    let mut full_path = String::with_capacity(base.path().len() + path.len());
    full_path.push_str(base.path());
    full_path.push_str(path);
    url.set_path(&full_path);
    if !encoded_query.is_empty() {
        url.set_query(Some(&encoded_query));
    }
    Ok(url)
}

/// A keep-alive pool with the settings of [`http_client`].
fn build_pool(config: &Config) -> Result<reqwest::Client> {
    http_client(config)
        .build()
        .map_err(|err| Error::config("base_uri", format!("the HTTP client cannot be built: {err}")))
}

/// The settings every HTTP pool shares: no redirects, timeouts, proxies, trusted roots.
pub(crate) fn http_client(config: &Config) -> reqwest::ClientBuilder {
    let mut http = reqwest::Client::builder()
        .user_agent(user_agent())
        // A signed request is valid for one path only: following a redirect would send it somewhere else.
        .redirect(reqwest::redirect::Policy::none())
        .tcp_nodelay(true)
        .pool_idle_timeout(Duration::from_secs(50))
        // The whole-request timeout is set per request (see `Core::prepare`): streaming downloads have none.
        .connect_timeout(config.connect_timeout);
    if is_loopback(&config.base_uri) {
        // A simulator on loopback must never be reached through a proxy from the environment.
        http = http.no_proxy();
    }
    let roots = config.root_certificates.iter().filter_map(|der| reqwest::Certificate::from_der(der).ok());
    http.tls_certs_merge(roots)
}

/// The `Content-Type` the `headers` option gives, if it gives one.
fn given_content_type(given: &[(String, String)]) -> Option<&str> {
    given.iter().rev().find(|(name, _)| name.eq_ignore_ascii_case("Content-Type")).map(|(_, value)| value.as_str())
}

/// The longest request target (path and query) sent: web servers refuse longer request lines (nginx's default
/// limit is 8 KiB), and the HTTP layer cannot send one of 64 KiB at all.
pub(crate) const MAX_TARGET_LENGTH: usize = 8 * 1024;

/// Checks a request's URL before anything is sent: below `base` (same scheme, host and port; the base's path as a
/// prefix: the template refuses what would climb, this is the last line of defence, on the URL as parsed), and
/// with a request target of at most [`MAX_TARGET_LENGTH`] bytes.
pub(crate) fn check_url(url: &Url, base: &Url, template: &str) -> Result<()> {
    // Scheme, host and port compared in place: `Url::origin` would copy the host twice for every request.
    let same_origin = url.scheme() == base.scheme()
        && url.host() == base.host()
        && url.port_or_known_default() == base.port_or_known_default();
    if !same_origin || !url.path().starts_with(base.path()) {
        return Err(Error::template(
            template,
            format!(
                "it leads to {}, outside the base URI {base}: a signed request goes nowhere else",
                abbreviate(url.path())
            ),
        ));
    }
    let target = url.path().len() + url.query().map_or(0, |query| query.len() + 1);
    if target > MAX_TARGET_LENGTH {
        return Err(Error::template(
            template,
            format!(
                "the request's path and query would be {target} bytes long, more than the {MAX_TARGET_LENGTH} that \
                 web servers accept, so it was not sent: check the variables and the query"
            ),
        ));
    }
    Ok(())
}

/// Refuses a blocking verb where it cannot wait: on the SDK's I/O threads (it would deadlock), or inside another
/// blocking verb on this thread (Tokio cannot block on a runtime it is driving).
fn check_not_reentrant() -> Result<()> {
    if on_io_thread() || driving() {
        return Err(Error::runtime(
            "a blocking verb was called from inside a request (from a Signer or Verifier?), on a thread that runs it \
             and cannot wait for a second one: use the _async verb there",
        ));
    }
    Ok(())
}

/// Headers that decide how a message is framed or how the connection is used, which the HTTP layer sets from the
/// body it sends: a caller's value would send a truncated body that was signed whole (a short `Content-Length`),
/// hang (a long one), or smuggle a second request.
const FRAMING_HEADERS: [&str; 10] = [
    "content-length",
    "transfer-encoding",
    "host",
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "upgrade",
    "expect",
];

/// Adds the `headers` option to `headers`.
pub(crate) fn add_headers(headers: &mut HeaderMap, given: &[(String, String)]) -> Result<()> {
    for (i, (name, value)) in given.iter().enumerate() {
        // The typed Options::header can repeat a name, which the PHP array cannot: which value counts (the
        // `Wechatpay-Serial` whose key encrypts sensitive fields, say) would be ambiguous.
        if given[..i].iter().any(|(earlier, _)| earlier.eq_ignore_ascii_case(name)) {
            return Err(Error::options(format!(
                "`headers.{}` is given twice: give each header once",
                shown_name(name)
            )));
        }
        let header = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| Error::options(format!("`headers.{}` is not a valid header name", shown_name(name))))?;
        if header == AUTHORIZATION {
            return Err(Error::options("`headers.Authorization` is made by the SDK: do not set it"));
        }
        if FRAMING_HEADERS.contains(&header.as_str()) {
            return Err(Error::options(format!(
                "`headers.{}` frames the message or manages the connection, which the HTTP layer does from the \
                 body it sends: do not set it",
                shown_name(name)
            )));
        }
        let value = HeaderValue::from_str(value).map_err(|_| {
            Error::options(format!("`headers.{}` has a value that is not a valid header value", shown_name(name)))
        })?;
        headers.insert(header, value);
    }
    Ok(())
}

/// Checks that every variable given is one of the template's, and usable as one.
fn check_variables(template: &UriTemplate, options: &Options) -> Result<()> {
    let is_variable = |key: &str| template.variables().any(|name| name == key);
    let given = options.vars.iter().map(|(key, _)| key).chain(options.unusable.iter().map(|(key, _)| key));
    if let Some(key) = given.into_iter().find(|key| !is_variable(key)) {
        if let Some(instead) = crate::options::guzzle_instead(key) {
            return Err(Error::options(format!(
                "`{key}` is a Guzzle request option this SDK does not take: {instead}"
            )));
        }
        if matches!(key.as_str(), "need_vefify" | "need_verify") {
            return Err(Error::options(format!(
                "`{key}` (from the PHP SDK's README) is read by no SDK, PHP's included: this SDK knows which APIv2 \
                 endpoints WeChat Pay answers without `sign` and verifies every other answer; remove it"
            )));
        }
        let variables: Vec<&str> = template.variables().collect();
        return Err(Error::options(format!(
            "`{}` is neither an option ({}) nor a variable of {} ({})",
            shown_name(key),
            OPTION_KEYS.join(", "),
            abbreviate(template.as_str()),
            if variables.is_empty() { "it has none".to_owned() } else { variables.join(", ") }
        )));
    }
    if let Some((key, kind)) = options.unusable.first() {
        return Err(Error::options(format!(
            "the path variable `{}` must be a string or a number, not {kind}",
            shown_name(key)
        )));
    }
    Ok(())
}

/// A TLS failure in the chain of `err`, in words: an untrusted server, or a server that refused our certificate.
fn tls_refusal(err: &reqwest::Error) -> Option<String> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(current) = source {
        if let Some(tls) = current.downcast_ref::<rustls::Error>() {
            return describe_tls(tls, err.is_connect());
        }
        // io::Error skips the error it wraps in `source()`: step into it instead.
        source = match current.downcast_ref::<std::io::Error>().and_then(|io| io.get_ref()) {
            Some(wrapped) => Some(wrapped as &(dyn std::error::Error + 'static)),
            None => current.source(),
        };
    }
    None
}

/// What a TLS failure means for the request; `None` leaves it to the general rules (a failure after the handshake
/// may come after WeChat Pay processed the request).
fn describe_tls(err: &rustls::Error, connecting: bool) -> Option<String> {
    Some(match err {
        rustls::Error::InvalidCertificate(why) => format!(
            "the server's TLS certificate is not trusted ({why:?}), so the request was not sent: for a private CA or a \
             simulator, trust its CA with ConfigBuilder::root_certificate (PHP-shaped: \"verify\")"
        ),
        rustls::Error::AlertReceived(alert) => format!(
            "the server ended the TLS handshake with the alert {alert:?}, so the request was not processed: a \
             `security` (mutual TLS) endpoint wants the merchant certificate apiclient_cert.pem with its key \
             (config `merchant`, ConfigBuilder::merchant_tls) issued for this mchid; send with `security: true`"
        ),
        other if connecting => format!("the TLS handshake failed ({other}), so the request was not sent"),
        _ => return None,
    })
}

/// WeChat Pay signs no bill file and no downloaded merchant-service image. `path` is relative to the base URI.
fn is_unsigned(method: &Method, path: &str) -> bool {
    method == Method::GET
        && (path == "v3/billdownload/file"
            || path
                .strip_prefix("v3/merchant-service/images/")
                .is_some_and(|rest| !rest.is_empty() && rest != "upload"))
}

/// The overseas statements, signed over their SHA-1 rather than their body. `path` is relative to the base URI,
/// which may itself end in `/hk/`.
fn is_statement(path: &str) -> bool {
    matches!(path, "hk/v3/statements" | "v3/global/statements" | "v3/statements")
}

pub(crate) fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(domain)) => domain.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// The error a non-2xx answer makes: [`Error::Redirect`] (with its `Location`) for a 3xx, else [`Error::Api`].
pub(crate) fn status_error(method: &Method, url: &Url, status: StatusCode, headers: &HeaderMap, body: Bytes) -> Error {
    let header = |name: &str| headers.get(name).and_then(|value| value.to_str().ok()).map(str::to_owned);
    if status.is_redirection() {
        return Error::Redirect {
            method: method.to_string(),
            url: abbreviate(url.as_str()),
            status: status.as_u16(),
            location: header("Location").map(|location| abbreviate(&one_line(&location, 2000))),
            request_id: header("Request-ID"),
        };
    }
    api_error(status.as_u16(), header("Request-ID"), body)
}

/// A 4xx/5xx answer as [`Error::Api`], reading WeChat Pay's `{"code","message","detail"}` when the body has it.
pub(crate) fn api_error(status: u16, request_id: Option<String>, body: Bytes) -> Error {
    #[derive(serde::Deserialize)]
    struct ErrorBody {
        #[serde(default)]
        code: String,
        #[serde(default)]
        message: String,
        detail: Option<Box<serde_json::Value>>,
    }
    let (code, message, detail) = match serde_json::from_slice::<ErrorBody>(&body) {
        Ok(parsed) => (one_line(&parsed.code, 64), one_line(&parsed.message, 1000), parsed.detail),
        Err(_) => (String::new(), summary(&body), None),
    };
    Error::Api { status, code, message, detail, request_id, body }
}

/// `text` on one line, as an error shows it: control characters (CR, LF...) become spaces, runs of spaces one,
/// and it is cut after `max` characters.
fn one_line(text: &str, max: usize) -> String {
    let mut line = String::with_capacity(text.len().min(max));
    for (count, word) in text.split(|c: char| c.is_whitespace() || c.is_control()).filter(|w| !w.is_empty()).enumerate()
    {
        if count > 0 {
            line.push(' ');
        }
        line.push_str(word);
        if line.chars().count() > max {
            let end = line.char_indices().nth(max).map_or(line.len(), |(end, _)| end);
            line.truncate(end);
            line.push_str("...");
            break;
        }
    }
    line
}

/// A body that is not WeChat Pay's JSON (a proxy's HTML page, plain text), as one line of its text: an HTML page's
/// `<title>`, else its text without markup.
fn summary(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(16 * 1024)]);
    let lower = text.to_ascii_lowercase();
    let is_html = lower.trim_start().starts_with('<') && (lower.contains("<html") || lower.contains("<body"));
    if !is_html {
        let line = one_line(&text, 200);
        return if line.is_empty() { "(empty body)".to_owned() } else { line };
    }
    let title = lower.find("<title>").and_then(|start| {
        let start = start + "<title>".len();
        lower[start..].find("</title>").map(|end| &text[start..start + end])
    });
    let shown = match title.map(|title| one_line(title, 200)).filter(|title| !title.is_empty()) {
        Some(title) => title,
        None => {
            let mut plain = String::with_capacity(text.len());
            let mut in_tag = false;
            for c in text.chars() {
                match c {
                    '<' => in_tag = true,
                    '>' if in_tag => {
                        in_tag = false;
                        plain.push(' ');
                    }
                    c if !in_tag => plain.push(c),
                    _ => {}
                }
            }
            one_line(&plain, 200)
        }
    };
    format!("an HTML page: {shown}")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The joined URL is the one `Url::parse` reads from the whole string, whatever the path holds.
    #[test]
    fn target_urls_are_what_parsing_the_whole_string_gives() {
        let paths = [
            "v3/certificates",
            "/v3/pay/transactions/out-trade-no/T%201",
            "v3/a/./b/../c",
            "v3/a/%2e%2E/b",
            "v3/a\\b",
            "v3/%E5%BC%A0/{x}|^`\"<>",
            "v3/张三/ x",
            "v3/tab\there",
            "v3/a?b=1",
            "v3/a#frag",
            "v3/trailing ",
            "v3/trailing\u{1}",
            "",
            "//double//slashes/",
        ];
        let queries: [&[(&str, &str)]; 3] = [&[], &[("mchid", "1900000001")], &[("a b", "c&d"), ("张", "?#")]];
        for base in ["https://api.mch.weixin.qq.com/", "http://127.0.0.1:8080/hk/", "https://例子.测试/v/"] {
            let base = Url::parse(base).unwrap();
            for path in paths {
                for query in queries {
                    let query: Vec<(String, String)> =
                        query.iter().map(|(name, value)| (name.to_string(), value.to_string())).collect();
                    let mut whole = format!("{base}{}", path.trim_start_matches('/'));
                    for (i, (name, value)) in query.iter().enumerate() {
                        whole.push(if i == 0 && !whole.contains('?') { '?' } else { '&' });
                        encode_component(&mut whole, name);
                        whole.push('=');
                        encode_component(&mut whole, value);
                    }
                    let joined = target_url(&base, path, &query).unwrap();
                    assert_eq!(joined, Url::parse(&whole).unwrap(), "{base} + {path:?} + {query:?}");
                }
            }
        }
    }

    #[test]
    fn skip_list_matches_only_the_unsigned_downloads() {
        assert!(is_unsigned(&Method::GET, "v3/billdownload/file"));
        assert!(is_unsigned(&Method::GET, "v3/merchant-service/images/abc"));
        assert!(!is_unsigned(&Method::POST, "v3/merchant-service/images/upload"));
        assert!(!is_unsigned(&Method::GET, "v3/merchant-service/images/upload"));
        assert!(!is_unsigned(&Method::GET, "v3/merchant-service/images/"));
        assert!(!is_unsigned(&Method::GET, "v3/bill/tradebill"));
        assert!(!is_unsigned(&Method::POST, "v3/billdownload/file"));
        assert!(!is_unsigned(&Method::GET, "v3/x/v3/billdownload/file"));
    }

    #[test]
    fn api_error_reads_wechat_error_bodies_and_survives_others() {
        let err = api_error(
            400,
            Some("id".into()),
            Bytes::from_static(br#"{"code":"PARAM_ERROR","message":"bad","detail":{"field":"x"}}"#),
        );
        assert!(
            matches!(err, Error::Api { status: 400, ref code, ref detail, .. } if code == "PARAM_ERROR" && detail.is_some())
        );
        let err = api_error(502, None, Bytes::from_static(b"<html>Bad Gateway</html>"));
        assert!(
            matches!(err, Error::Api { ref code, ref message, .. } if code.is_empty() && message.contains("Bad Gateway"))
        );
    }

    #[test]
    fn error_messages_are_one_line_of_text() {
        let nginx = b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad \
                      Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n";
        let err = api_error(502, None, Bytes::from_static(nginx));
        let not_ours = "did not come from WeChat Pay's API (its body is not WeChat Pay's {\"code\",\"message\"} JSON, \
                        so a proxy, gateway or load balancer on the way answered)";
        assert_eq!(err.to_string(), format!("the answer 502 {not_ours}: an HTML page: 502 Bad Gateway"));
        let untitled =
            api_error(503, None, Bytes::from_static(b"<html><body><h1>Service\r\n Unavailable</h1></body></html>"));
        assert!(untitled.to_string().ends_with("an HTML page: Service Unavailable"), "{untitled}");
        let json = br#"{"code":"SYSTEM_ERROR","message":"line one\r\nInjected: two"}"#;
        let err = api_error(500, None, Bytes::from_static(json));
        assert_eq!(err.to_string(), "WeChat Pay answered 500 SYSTEM_ERROR: line one Injected: two");
        assert_eq!(api_error(500, None, Bytes::new()).to_string(), format!("the answer 500 {not_ours}: (empty body)"));
        let long = "x".repeat(5000);
        assert!(one_line(&long, 200).len() == 203);
        assert_eq!(one_line("中文\u{0}\t文", 2), "中文...");
    }

    mod verify {
        use super::*;
        use crate::config::Config;
        use crate::crypto::{Certificate, PrivateKey};

        const PLATFORM_SERIAL: &str = "440024045C4A427599D09BB4E3DE0279F2E813FD";

        fn platform_certificate() -> Certificate {
            Certificate::load("file://tests/fixtures/wechat_pay_certificate.pem").unwrap()
        }

        /// The fixture platform certificate expired in 2025: its key is trusted here as a bare key, without the
        /// validity a certificate brings.
        fn core() -> Core {
            let config = Config::builder()
                .mchid("1900000001")
                .serial("5F1C72E2A8931B72A2E13AF8DEE92471EB397115")
                .private_key(PrivateKey::load("file://tests/fixtures/merchant_private_key.pem").unwrap())
                .cert(PLATFORM_SERIAL, platform_certificate().public_key().clone())
                .build()
                .unwrap();
            Core::new(config).unwrap()
        }

        fn verify(
            core: &Core,
            path: &str,
            headers: &HeaderMap,
            body: &[u8],
        ) -> Result<Option<String>, VerificationFailure> {
            core.verify(&Method::GET, path, headers, body, &*core.config.verifier)
        }

        /// Headers as WeChat Pay signs an answer: `signed_body` is what the signature covers.
        fn signed(timestamp: i64, signed_body: &[u8]) -> HeaderMap {
            let platform = PrivateKey::load("file://tests/fixtures/wechat_pay_private_key.pem").unwrap();
            let message = Formatter::response_bytes(timestamp, "NONCE", signed_body);
            let mut headers = HeaderMap::new();
            headers.insert("Wechatpay-Timestamp", HeaderValue::from_str(&timestamp.to_string()).unwrap());
            headers.insert("Wechatpay-Nonce", HeaderValue::from_static("NONCE"));
            headers.insert(
                "Wechatpay-Signature",
                HeaderValue::from_str(&STANDARD.encode(platform.sign(&message).unwrap())).unwrap(),
            );
            headers.insert("Wechatpay-Serial", HeaderValue::from_static(PLATFORM_SERIAL));
            headers
        }

        #[test]
        fn a_signed_answer_verifies_and_names_its_key() {
            let verified = verify(&core(), "v3/certificates", &signed(Formatter::timestamp(), b"{}"), b"{}");
            assert_eq!(verified, Ok(Some(PLATFORM_SERIAL.to_owned())));
        }

        #[test]
        fn timestamps_from_the_future_are_refused_too() {
            let future = Formatter::timestamp() + 400;
            let result = verify(&core(), "v3/certificates", &signed(future, b"{}"), b"{}");
            assert!(matches!(result, Err(VerificationFailure::ClockSkew { .. })), "{result:?}");
        }

        #[test]
        fn a_header_that_is_not_ascii_is_named() {
            let mut headers = signed(Formatter::timestamp(), b"{}");
            headers.insert("Wechatpay-Nonce", HeaderValue::from_bytes("NONCÉ".as_bytes()).unwrap());
            let result = verify(&core(), "v3/certificates", &headers, b"{}");
            assert_eq!(result, Err(VerificationFailure::InvalidHeader("Wechatpay-Nonce")));
        }

        #[test]
        fn statements_are_verified_over_their_digest_and_the_body_must_match_it() {
            let statement = b"2024-01-01,statement line";
            let digest = crate::crypto::hex_lower(&Sha1::digest(statement));
            let digest_document = format!("{{\"sha1\":\"{digest}\"}}");
            let mut headers = signed(Formatter::timestamp(), digest_document.as_bytes());
            headers.insert("Wechatpay-Statement-Sha1", HeaderValue::from_str(&digest).unwrap());
            for path in ["hk/v3/statements", "v3/global/statements"] {
                assert_eq!(verify(&core(), path, &headers, statement), Ok(Some(PLATFORM_SERIAL.to_owned())));
                let altered = verify(&core(), path, &headers, b"2024-01-01,statement lime");
                assert_eq!(altered, Err(VerificationFailure::DigestMismatch));
            }
            // The same headers on an ordinary endpoint: the signature does not cover this body.
            let ordinary = verify(&core(), "v3/certificates", &headers, statement);
            assert_eq!(ordinary, Err(VerificationFailure::BadSignature));
        }

        /// PHP parity: without `Wechatpay-Statement-Sha1`, a statement is verified over its body like any answer.
        #[test]
        fn statements_without_the_digest_header_are_verified_over_their_body() {
            let statement = b"2024-01-01,statement line";
            let headers = signed(Formatter::timestamp(), statement);
            for path in ["hk/v3/statements", "v3/global/statements"] {
                assert_eq!(verify(&core(), path, &headers, statement), Ok(Some(PLATFORM_SERIAL.to_owned())));
                let altered = verify(&core(), path, &headers, b"2024-01-01,statement lime");
                assert_eq!(altered, Err(VerificationFailure::BadSignature));
            }
        }

        #[test]
        fn an_expired_platform_certificate_verifies_nothing() {
            let config = Config::builder()
                .mchid("1900000001")
                .serial("5F1C72E2A8931B72A2E13AF8DEE92471EB397115")
                .private_key(PrivateKey::load("file://tests/fixtures/merchant_private_key.pem").unwrap())
                .platform_certificate(platform_certificate())
                .build()
                .unwrap();
            let core = Core::new(config).unwrap();
            let result = verify(&core, "v3/certificates", &signed(Formatter::timestamp(), b"{}"), b"{}");
            let Err(VerificationFailure::ExpiredCertificate { serial, expired_at }) = result else {
                panic!("expected ExpiredCertificate, got {result:?}")
            };
            assert_eq!(serial, PLATFORM_SERIAL);
            assert_eq!(expired_at, platform_certificate().not_after());
            let message = VerificationFailure::ExpiredCertificate { serial, expired_at }.to_string();
            assert!(message.contains("expired at 2025-05-09T02:04:30Z"), "{message}");
        }
    }
}
