//! The HTTP/1.1 transport on its own runtime thread, and the public [`Server`] handle.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Limited};
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::Value;

use crate::engine::{Delivery, Engine, RawRequest, RawResponse, ResponseSigner, Settings};
use crate::error::MockError;
use crate::faults::{Fault, FaultHandle};
use crate::identities::{Identities, Platform, StatePaths};
use crate::multipart::{self, Part};
use crate::notify::{self, Delivered, DeliveryRecord, Notification};
use crate::record::{Recorder, Transport};
use crate::reply::Streamed;
use crate::state::orders::TradeState;
use crate::state::refunds::RefundStatus;
use crate::state::transfers::TransferState;
use crate::state::{Clock, Event, Timers, World};

/// The largest request body read whole (JSON, XML and raw bodies).
const MAX_BODY: usize = 32 * 1024 * 1024;

/// The largest `multipart/form-data` body accepted: uploads are split into parts as they stream in, each
/// part hashed and measured, so only their first bytes are ever held.
const MAX_MULTIPART_BODY: u64 = 4 * 1024 * 1024 * 1024;

/// How much of each multipart part is kept (a `meta` part must fit; a file part is kept this far).
const PART_KEEP: usize = 1024 * 1024;

/// How much of a streamed body is kept for the request log.
const LOGGED_BODY: usize = 1024 * 1024;

/// Settings for a [`Server`]; start it with [`ServerBuilder::start`] or [`ServerBuilder::start_blocking`].
///
/// ```no_run
/// # async fn demo() -> Result<(), wechatpay_mock::MockError> {
/// use std::time::Duration;
/// use wechatpay_mock::{Identities, ResponseSigner, Server};
/// let server = Server::builder()
///     .identities(Identities::shared()?)
///     .response_signer(ResponseSigner::PublicKey)
///     .auto_advance(Some(Duration::from_millis(50)))
///     .start()
///     .await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct ServerBuilder {
    listen: SocketAddr,
    tls_listen: Option<SocketAddr>,
    state_dir: Option<PathBuf>,
    identities: Option<Identities>,
    signer: ResponseSigner,
    auto_advance: Option<Duration>,
    auto_pay: Option<Duration>,
    auto_notify: bool,
    clock: Option<Clock>,
    platform_certificates: bool,
    window: Duration,
    bill_size: Option<u64>,
    record: Option<PathBuf>,
}

impl Default for ServerBuilder {
    fn default() -> Self {
        ServerBuilder {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            tls_listen: None,
            state_dir: None,
            identities: None,
            signer: ResponseSigner::PlatformCertificate,
            auto_advance: None,
            auto_pay: None,
            auto_notify: false,
            clock: None,
            platform_certificates: true,
            window: Duration::from_secs(300),
            bill_size: None,
            record: None,
        }
    }
}

impl ServerBuilder {
    /// The address to listen on; default `127.0.0.1:0` (an ephemeral port).
    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.listen = addr;
        self
    }

    /// The address of the mutual-TLS listener; default the [`listen`](Self::listen) address's IP with an
    /// ephemeral port.
    pub fn tls_listen(mut self, addr: SocketAddr) -> Self {
        self.tls_listen = Some(addr);
        self
    }

    /// Keep the identities in this directory: load them when it has a `manifest.json`, else generate and
    /// save them there. With [`ServerBuilder::identities`] too, those identities are saved there.
    pub fn state_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.state_dir = Some(dir.into());
        self
    }

    /// Use these identities instead of generating fresh ones (see [`Identities::shared`]).
    pub fn identities(mut self, identities: Identities) -> Self {
        self.identities = Some(identities);
        self
    }

    /// Which key signs answers when the request's `Wechatpay-Serial` names neither; default the platform
    /// certificate.
    pub fn response_signer(mut self, signer: ResponseSigner) -> Self {
        self.signer = signer;
        self
    }

    /// Let transfers, refunds (v3 and APIv2) and red packets move on by themselves, one state every `step`
    /// of the server's [`clock`](Self::clock): QQ-wallet bills ACCEPTED → PROCESSING → WAIT_USER_CONFIRM →
    /// TRANSFERING → SUCCESS, CANCELING → CANCELLED, refunds PROCESSING → SUCCESS. A timer of the server makes
    /// each step when it is due (and sends its callback, see [`auto_notify`](Self::auto_notify)), with no
    /// request needed; `None` (the default) keeps them still until a test moves them.
    pub fn auto_advance(mut self, step: Option<Duration>) -> Self {
        self.auto_advance = step;
        self
    }

    /// Play the payer: every `NOTPAY` order (v3 prepay or APIv2 `pay/unifiedorder`; an APIv2 `USERPAYING`
    /// code payment gets its password) is paid `delay` after it was made, as [`Server::pay_order`] would.
    /// A timer of the server pays it when it is due and sends `TRANSACTION.SUCCESS` (see
    /// [`auto_notify`](Self::auto_notify)), with no request needed; `None` (the default) leaves orders unpaid
    /// until a test pays them. For clients that only see the HTTP side (the binary's `--auto-pay`).
    ///
    /// ```
    /// # fn main() -> Result<(), wechatpay_mock::MockError> {
    /// use std::time::Duration;
    /// use wechatpay_mock::{Clock, Identities, Server};
    /// // A manual clock: the test decides when the payer pays.
    /// let server = Server::builder()
    ///     .identities(Identities::shared()?)
    ///     .clock(Clock::manual())
    ///     .auto_pay(Some(Duration::from_secs(5)))
    ///     .auto_notify(true)
    ///     .start_blocking()?;
    /// // ... the client under test makes a prepay with an http:// notify_url ...
    /// server.advance_time(Duration::from_secs(5)); // paid now; TRANSACTION.SUCCESS is on its way
    /// # Ok(()) }
    /// ```
    pub fn auto_pay(mut self, delay: Option<Duration>) -> Self {
        self.auto_pay = delay;
        self
    }

    /// POST callbacks on their own to `http://` notify URLs when an order is paid, a refund or a transfer
    /// ends (default off; `https://` URLs are never called): the APIv3 ones signed and encrypted, the APIv2
    /// ones as XML. Outcomes show in [`Server::deliveries`] and [`Server::wait_for_deliveries`].
    pub fn auto_notify(mut self, on: bool) -> Self {
        self.auto_notify = on;
        self
    }

    /// The clock that [`auto_pay`](Self::auto_pay) and [`auto_advance`](Self::auto_advance) count with and
    /// whose time answers show; default [`Clock::system`]. With [`Clock::manual`] nothing moves until the test
    /// calls [`Server::advance_time`] (or [`Clock::advance`]): deterministic tests, no sleeping.
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Play a merchant that has no platform certificate (public-key mode only): `GET /v3/certificates`
    /// answers 404 `RESOURCE_NOT_EXISTS` and every answer is signed with the WeChat Pay public key.
    pub fn public_key_only(mut self) -> Self {
        self.platform_certificates = false;
        self.signer = ResponseSigner::PublicKey;
        self
    }

    /// How far a request's timestamp may be from the server clock; default 300 s, as WeChat Pay.
    pub fn timestamp_window(mut self, window: Duration) -> Self {
        self.window = window;
        self
    }

    /// Serve generated bills of this many bytes instead of the bills of the simulator's orders (see
    /// [`Server::set_bill_size`]); default `None`.
    pub fn bill_size(mut self, size: Option<u64>) -> Self {
        self.bill_size = size;
        self
    }

    /// Record every request received in `path` (created, or emptied, at start), one JSON line each, for the port
    /// check (`wechatpay port-diff`): the line format is described in [`record`](crate::record).
    ///
    /// ```
    /// # fn main() -> Result<(), wechatpay_mock::MockError> {
    /// let path = std::env::temp_dir().join(format!("php-{}.jsonl", std::process::id()));
    /// let server = wechatpay_mock::Server::builder()
    ///     .identities(wechatpay_mock::Identities::shared()?)
    ///     .record(&path)
    ///     .start_blocking()?;
    /// assert_eq!(std::fs::read(&path).map(|bytes| bytes.len()).ok(), Some(0));
    /// # drop(server); let _ = std::fs::remove_file(&path);
    /// # Ok(()) }
    /// ```
    pub fn record(mut self, path: impl Into<PathBuf>) -> Self {
        self.record = Some(path.into());
        self
    }

    /// Starts the server on its own runtime thread, from async code (any executor). Key generation and
    /// the bind happen off the caller's executor.
    ///
    /// # Errors
    /// As [`ServerBuilder::start_blocking`].
    pub async fn start(self) -> Result<Server, MockError> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        std::thread::Builder::new()
            .name("wechatpay-mock-start".into())
            .spawn(move || {
                let _ = tx.send(self.start_blocking());
            })
            .map_err(|e| MockError::io("spawning the start thread", e))?;
        rx.await.map_err(|_| MockError::Stopped)?
    }

    /// Starts the server on its own runtime thread, from blocking code (no runtime needed).
    ///
    /// # Errors
    /// [`MockError::Io`] when the address cannot be bound, the [`record`](Self::record) file cannot be created or
    /// a thread cannot start; identity errors as [`Identities::load_or_create`].
    pub fn start_blocking(self) -> Result<Server, MockError> {
        let (identities, state_paths) = match (self.identities, &self.state_dir) {
            (Some(ids), Some(dir)) => {
                let paths = ids.save(dir)?;
                (ids, Some(paths))
            }
            (Some(ids), None) => (ids, None),
            (None, Some(dir)) => (Identities::load_or_create(dir)?, Some(StatePaths::in_dir(dir))),
            (None, None) => (Identities::generate()?, None),
        };
        let listener = std::net::TcpListener::bind(self.listen)
            .map_err(|e| MockError::io(format!("binding {}", self.listen), e))?;
        listener.set_nonblocking(true).map_err(|e| MockError::io("configuring the listener", e))?;
        let addr = listener.local_addr().map_err(|e| MockError::io("reading the bound address", e))?;
        let base_uri = format!("http://{addr}/");
        let tls_listener = std::net::TcpListener::bind(self.tls_listen.unwrap_or(SocketAddr::new(self.listen.ip(), 0)))
            .map_err(|e| MockError::io("binding the mutual-TLS listener", e))?;
        tls_listener.set_nonblocking(true).map_err(|e| MockError::io("configuring the listener", e))?;
        let tls_addr = tls_listener.local_addr().map_err(|e| MockError::io("reading the bound address", e))?;
        let tls_base_uri = format!("https://{tls_addr}/");
        let mut names =
            vec![tls_addr.ip().to_string(), "127.0.0.1".to_owned(), "::1".to_owned(), "localhost".to_owned()];
        names.dedup();
        let tls = crate::tls::server_tls(&names, &identities.merchant_ca.certificate_pem)?;
        if let Some(paths) = &state_paths {
            std::fs::write(&paths.tls_ca_certificate, &tls.ca_pem)
                .map_err(|e| MockError::io(format!("writing {}", paths.tls_ca_certificate.display()), e))?;
        }
        let tls_ca_pem = tls.ca_pem.clone();
        let recorder = self.record.as_deref().map(Recorder::create).transpose()?.map(Arc::new);
        let settings = Settings {
            window: i64::try_from(self.window.as_secs()).unwrap_or(i64::MAX),
            signer: self.signer,
            platform_certificates: self.platform_certificates,
            auto_notify: self.auto_notify,
        };
        let timers = Timers { auto_pay: self.auto_pay, auto_advance: self.auto_advance };
        let world = World::new(self.clock.unwrap_or_default(), timers);
        let bill_size = self.bill_size;
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let uri = base_uri.clone();
        let thread = std::thread::Builder::new()
            .name("wechatpay-mock".into())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .thread_name("wechatpay-mock-worker")
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = ready_tx.send(Err(MockError::io("starting the runtime", e)));
                        return;
                    }
                };
                let engine = match Engine::new(identities, settings, world, uri, runtime.handle().clone()) {
                    Ok(engine) => {
                        engine.with_state(|state, _| state.bills.default_size = bill_size);
                        Arc::new(engine)
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                let _ = ready_tx.send(Ok(Arc::clone(&engine)));
                runtime.block_on(serve(listener, tls_listener, tls.acceptor, engine, recorder, stop_rx));
                runtime.shutdown_timeout(Duration::from_millis(200));
            })
            .map_err(|e| MockError::io("spawning the server thread", e))?;
        let engine = match ready_rx.recv() {
            Ok(Ok(engine)) => engine,
            Ok(Err(e)) => return Err(e),
            Err(_) => return Err(MockError::Stopped),
        };
        Ok(Server {
            engine,
            base_uri,
            addr,
            tls_base_uri,
            tls_addr,
            tls_ca_pem,
            state_paths,
            stop: Some(stop_tx),
            thread: Some(thread),
        })
    }
}

/// A running WeChat Pay simulator on loopback. It stops when dropped (from async or blocking code).
///
/// ```
/// # fn main() -> Result<(), wechatpay_mock::MockError> {
/// let server = wechatpay_mock::Server::builder()
///     .identities(wechatpay_mock::Identities::shared()?)
///     .start_blocking()?;
/// assert!(server.base_uri().starts_with("http://127.0.0.1:"));
/// assert!(server.base_uri().ends_with('/'));
/// let mchid = &server.identities().mchid;
/// # let _ = mchid;
/// # Ok(()) }
/// ```
pub struct Server {
    engine: Arc<Engine>,
    base_uri: String,
    addr: SocketAddr,
    tls_base_uri: String,
    tls_addr: SocketAddr,
    tls_ca_pem: String,
    state_paths: Option<StatePaths>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("base_uri", &self.base_uri)
            .field("tls_base_uri", &self.tls_base_uri)
            .field("mchid", &self.engine.ids.mchid)
            .finish_non_exhaustive()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            // The thread only waits for the accept loop to see the stop signal and for the runtime's
            // bounded shutdown: joining is short, and never panics (a panic in the thread is ignored).
            let _ = thread.join();
        }
    }
}

impl Server {
    /// Starts a server with fresh identities on `127.0.0.1:0`, from async code.
    ///
    /// # Errors
    /// As [`ServerBuilder::start_blocking`].
    pub async fn start() -> Result<Server, MockError> {
        ServerBuilder::default().start().await
    }

    /// Starts a server with fresh identities on `127.0.0.1:0`, from blocking code.
    ///
    /// # Errors
    /// As [`ServerBuilder::start_blocking`].
    pub fn start_blocking() -> Result<Server, MockError> {
        ServerBuilder::default().start_blocking()
    }

    /// Settings for a server.
    pub fn builder() -> ServerBuilder {
        ServerBuilder::default()
    }

    /// `http://127.0.0.1:PORT/`, with the trailing slash.
    pub fn base_uri(&self) -> &str {
        &self.base_uri
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// `https://127.0.0.1:PORT/`: the mutual-TLS listener. It serves the same endpoints as
    /// [`base_uri`](Self::base_uri), to clients that present a merchant certificate issued by
    /// [`Identities::merchant_ca`] (as [`Identities::merchant`]'s is), and refuses any other client during the TLS
    /// handshake. Its own certificate is issued by [`tls_ca_pem`](Self::tls_ca_pem) for 127.0.0.1, ::1 and
    /// localhost.
    ///
    /// ```
    /// let server = wechatpay_mock::Server::builder()
    ///     .identities(wechatpay_mock::Identities::shared()?).start_blocking()?;
    /// assert!(server.tls_base_uri().starts_with("https://127.0.0.1:"));
    /// assert_ne!(server.tls_local_addr(), server.local_addr());
    /// # Ok::<(), wechatpay_mock::MockError>(())
    /// ```
    pub fn tls_base_uri(&self) -> &str {
        &self.tls_base_uri
    }

    /// The mutual-TLS listener's bound address.
    pub fn tls_local_addr(&self) -> SocketAddr {
        self.tls_addr
    }

    /// The CA (PEM) that issued the mutual-TLS listener's certificate, made at start: trust it to reach
    /// [`tls_base_uri`](Self::tls_base_uri). With a state directory it is also written to
    /// [`StatePaths::tls_ca_certificate`].
    pub fn tls_ca_pem(&self) -> &str {
        &self.tls_ca_pem
    }

    /// Mutual-TLS handshakes that succeeded so far.
    pub fn tls_connections_accepted(&self) -> u64 {
        self.engine.tls_connections.load(Ordering::Relaxed)
    }

    /// Mutual-TLS handshakes refused so far (no client certificate, or one the merchant CA did not issue).
    pub fn tls_handshakes_refused(&self) -> u64 {
        self.engine.tls_refusals.load(Ordering::Relaxed)
    }

    /// The identities the server plays with.
    pub fn identities(&self) -> &Identities {
        &self.engine.ids
    }

    /// A client configuration for this server, in the shape of the PHP SDK's `Builder::factory` array: `mchid`,
    /// `serial`, `privateKey` (PEM text), `certs` (the platform certificate and the WeChat Pay public key, as PEM
    /// text, by serial), `secret` (the APIv2 key), `apiv3Key` and `base_uri`. The Rust SDK's `Builder::factory`
    /// takes it as it is; the PHP SDK takes it once decoded into an array.
    ///
    /// ```
    /// let server = wechatpay_mock::Server::builder()
    ///     .identities(wechatpay_mock::Identities::shared()?).start_blocking()?;
    /// let config = server.php_config();
    /// assert_eq!(config["mchid"], server.identities().mchid.as_str());
    /// assert_eq!(config["base_uri"], server.base_uri());
    /// assert_eq!(config["certs"].as_object().map(|certs| certs.len()), Some(2));
    /// # Ok::<(), wechatpay_mock::MockError>(())
    /// ```
    pub fn php_config(&self) -> serde_json::Value {
        let ids = self.identities();
        let mut certs = serde_json::Map::new();
        certs.insert(ids.platform.serial.clone(), ids.platform.certificate_pem.clone().into());
        certs.insert(ids.public_key.id.clone(), ids.public_key.public_key_pem.clone().into());
        serde_json::json!({
            "mchid": ids.mchid,
            "serial": ids.merchant.serial,
            "privateKey": ids.merchant.private_key_pem,
            "certs": certs,
            "secret": ids.apiv2_key,
            "apiv3Key": ids.apiv3_key,
            "base_uri": self.base_uri,
        })
    }

    /// Where the identities' files are, when the server was given a state directory.
    pub fn state_paths(&self) -> Option<&StatePaths> {
        self.state_paths.as_ref()
    }

    /// TCP connections accepted so far.
    pub fn connections_accepted(&self) -> u64 {
        self.engine.connections.load(Ordering::Relaxed)
    }

    /// Requests received so far (every request, also those that failed the checks or got a fault).
    pub fn requests_served(&self) -> u64 {
        self.engine.requests.load(Ordering::Relaxed)
    }

    /// Fault injection.
    pub fn faults(&self) -> FaultHandle {
        self.engine.faults.clone()
    }

    /// The most recent requests (up to 512), oldest first, as received (bodies past 1 MiB are cut there).
    pub fn received_requests(&self) -> Vec<RawRequest> {
        self.engine.received()
    }

    /// The last request received.
    pub fn last_request(&self) -> Option<RawRequest> {
        self.engine.received().pop()
    }

    /// Processes a request without the network and without fault injection (the checks, state and
    /// signatures all apply): for benchmarks and for embedding in another HTTP stack.
    ///
    /// A bill file, which the server streams, is produced here in full.
    pub fn dispatch(&self, request: &RawRequest) -> RawResponse {
        match self.engine.handle(request, None) {
            (mut response, Delivery::Stream(stream, _)) => {
                response.body = stream.chunks().flatten().collect();
                response
            }
            (response, _) => response,
        }
    }

    // --- transfers -------------------------------------------------------------------------------

    /// The state of a transfer bill (QQ wallet or merchant transfer), by `out_bill_no`.
    pub fn transfer_state(&self, out_bill_no: &str) -> Option<TransferState> {
        self.engine.with_state(|s, _| s.transfers.get(out_bill_no).map(|b| b.state))
    }

    /// Puts a transfer bill in any state (a test's shortcut; FAIL gets a `fail_reason`).
    ///
    /// # Errors
    /// [`MockError::NotFound`] for an unknown bill.
    pub fn set_transfer_state(&self, out_bill_no: &str, state: TransferState) -> Result<(), MockError> {
        self.engine.with_state(|s, now| s.transfers.set_state(out_bill_no, state, now, &mut s.events))
    }

    /// Moves a transfer bill one step along [`TransferState::next`] and returns the new state.
    ///
    /// # Errors
    /// [`MockError::NotFound`] for an unknown bill, [`MockError::InvalidState`] for a final one.
    pub fn advance_transfer(&self, out_bill_no: &str) -> Result<TransferState, MockError> {
        self.engine.with_state(|s, now| s.transfers.advance(out_bill_no, now, &mut s.events))
    }

    // --- payments --------------------------------------------------------------------------------

    /// The payer pays a `NOTPAY` order: it becomes `SUCCESS` with a new `transaction_id` (returned).
    ///
    /// # Errors
    /// [`MockError::NotFound`] for an unknown order, [`MockError::InvalidState`] when it is not payable.
    pub fn pay_order(&self, out_trade_no: &str) -> Result<String, MockError> {
        self.engine.with_state(|s, now| s.orders.pay(out_trade_no, now, &mut s.events))
    }

    /// The `trade_state` of an order.
    pub fn trade_state(&self, out_trade_no: &str) -> Option<TradeState> {
        self.engine.with_state(|s, _| s.orders.get(out_trade_no).map(|o| o.state))
    }

    /// Forces an order's `trade_state` (`SUCCESS` on an unpaid order pays it).
    ///
    /// # Errors
    /// [`MockError::NotFound`] for an unknown order.
    pub fn set_trade_state(&self, out_trade_no: &str, state: TradeState) -> Result<(), MockError> {
        self.engine.with_state(|s, now| s.orders.set_state(out_trade_no, state, now, &mut s.events))
    }

    // --- refunds ---------------------------------------------------------------------------------

    /// The status of a refund.
    pub fn refund_status(&self, out_refund_no: &str) -> Option<RefundStatus> {
        self.engine.with_state(|s, _| s.refunds.get(out_refund_no).map(|r| r.status))
    }

    /// Puts a refund in any status.
    ///
    /// # Errors
    /// [`MockError::NotFound`] for an unknown refund.
    pub fn set_refund_status(&self, out_refund_no: &str, status: RefundStatus) -> Result<(), MockError> {
        self.engine.with_state(|s, now| s.refunds.set_status(out_refund_no, status, now, &mut s.events))
    }

    // --- APIv2 callbacks -------------------------------------------------------------------------

    /// The APIv2 payment callback of an order made by `pay/unifiedorder` or `pay/micropay`, signed (MD5) with the
    /// APIv2 key. An unpaid order (`NOTPAY`, or `USERPAYING` waiting for the password) is paid first: the payer
    /// pays, and this is what WeChat Pay then posts to the `notify_url`.
    ///
    /// # Errors
    /// [`MockError::NotFound`] for an unknown order.
    pub fn v2_payment_notification(&self, out_trade_no: &str) -> Result<Vec<u8>, MockError> {
        self.engine
            .with_state(|s, now| {
                crate::v2::payment_notification(&mut s.apiv2, out_trade_no, &self.engine.v2_account(now.secs))
            })
            .ok_or_else(|| MockError::NotFound(format!("APIv2 order {out_trade_no}")))
    }

    /// The APIv2 refund callback of a refund made by `secapi/pay/refund`: unsigned, with `req_info` encrypted
    /// (AES-256-ECB under the MD5 of the APIv2 key). A refund still `PROCESSING` ends first (`SUCCESS`).
    ///
    /// # Errors
    /// [`MockError::NotFound`] for an unknown refund.
    pub fn v2_refund_notification(&self, out_refund_no: &str) -> Result<Vec<u8>, MockError> {
        self.engine
            .with_state(|s, now| {
                crate::v2::refund_notification(&mut s.apiv2, out_refund_no, &self.engine.v2_account(now.secs))
            })
            .ok_or_else(|| MockError::NotFound(format!("APIv2 refund {out_refund_no}")))
    }

    // --- platform certificates -------------------------------------------------------------------

    /// The platform certificates `GET /v3/certificates` lists, in the order added: the identities' own first,
    /// then those of [`Server::add_platform_certificate`] and [`Server::rotate_platform_certificate`]. Empty for
    /// a [`ServerBuilder::public_key_only`] merchant.
    ///
    /// ```
    /// let server = wechatpay_mock::Server::builder().identities(wechatpay_mock::Identities::shared()?).start_blocking()?;
    /// let listed = server.platform_certificates();
    /// assert_eq!(listed.len(), 1);
    /// assert_eq!(listed[0], server.identities().platform);
    /// # Ok::<(), wechatpay_mock::MockError>(())
    /// ```
    pub fn platform_certificates(&self) -> Vec<Platform> {
        self.engine.platform_certificates().iter().map(|entry| entry.platform.clone()).collect()
    }

    /// The platform certificate that signs answers and callbacks (unless a request's `Wechatpay-Serial` names
    /// another key, or the server signs with the WeChat Pay public key).
    ///
    /// ```
    /// let server = wechatpay_mock::Server::builder().identities(wechatpay_mock::Identities::shared()?).start_blocking()?;
    /// assert_eq!(server.signing_platform_certificate().serial, server.identities().platform.serial);
    /// # Ok::<(), wechatpay_mock::MockError>(())
    /// ```
    pub fn signing_platform_certificate(&self) -> Platform {
        self.engine.signing_platform()
    }

    /// WeChat Pay's rotation: a new platform certificate (fresh RSA-2048 key and serial, valid from yesterday for
    /// five years) is listed beside the others and signs every answer and callback from now on. Clients that
    /// only know the old certificate see an unknown `Wechatpay-Serial` until they download the new one.
    ///
    /// ```
    /// let server = wechatpay_mock::Server::builder().identities(wechatpay_mock::Identities::shared()?).start_blocking()?;
    /// let new = server.rotate_platform_certificate()?;
    /// assert_ne!(new.serial, server.identities().platform.serial);
    /// assert_eq!(server.platform_certificates().len(), 2);
    /// assert_eq!(server.signing_platform_certificate(), new);
    /// # Ok::<(), wechatpay_mock::MockError>(())
    /// ```
    ///
    /// # Errors
    /// [`MockError::Crypto`] when key generation fails.
    pub fn rotate_platform_certificate(&self) -> Result<Platform, MockError> {
        let not_before = crate::util::now_secs() - 86_400;
        self.engine.add_platform((not_before, not_before + crate::identities::CERT_LIFETIME_SECS), true)
    }

    /// Lists one more platform certificate (fresh key and serial) valid from `effective_time` to `expire_time`
    /// (Unix seconds), without signing with it: e.g. one that expired yesterday, or one announced before use.
    /// [`Server::sign_with_platform_certificate`] makes it sign.
    ///
    /// ```
    /// let server = wechatpay_mock::Server::builder().identities(wechatpay_mock::Identities::shared()?).start_blocking()?;
    /// let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    /// let expired = server.add_platform_certificate(now - 400 * 86_400, now - 86_400)?;
    /// assert!(expired.expire_time < now);
    /// // Listed, but answers are still signed with the identities' certificate.
    /// assert_eq!(server.platform_certificates().len(), 2);
    /// assert_eq!(server.signing_platform_certificate(), server.identities().platform);
    /// # Ok::<(), wechatpay_mock::MockError>(())
    /// ```
    ///
    /// # Errors
    /// [`MockError::InvalidState`] when `expire_time` is not after `effective_time`, [`MockError::Crypto`] when
    /// key generation fails.
    pub fn add_platform_certificate(&self, effective_time: i64, expire_time: i64) -> Result<Platform, MockError> {
        self.engine.add_platform((effective_time, expire_time), false)
    }

    /// Signs answers and callbacks with the listed platform certificate `serial` from now on (whatever its
    /// validity: WeChat Pay never signs with an expired certificate, so clients should refuse that).
    ///
    /// ```
    /// let server = wechatpay_mock::Server::builder().identities(wechatpay_mock::Identities::shared()?).start_blocking()?;
    /// let first = server.identities().platform.clone();
    /// server.rotate_platform_certificate()?;
    /// server.sign_with_platform_certificate(&first.serial)?;
    /// assert_eq!(server.signing_platform_certificate(), first);
    /// assert!(server.sign_with_platform_certificate("0123").is_err());
    /// # Ok::<(), wechatpay_mock::MockError>(())
    /// ```
    ///
    /// # Errors
    /// [`MockError::NotFound`] when no listed certificate has that serial.
    pub fn sign_with_platform_certificate(&self, serial: &str) -> Result<(), MockError> {
        self.engine.sign_with_platform(serial)
    }

    // --- bills -----------------------------------------------------------------------------------

    /// Makes the bill applies that follow (trade, fund flow, sub-merchant and e-commerce fund flows, the
    /// overseas download URLs) serve a generated bill of exactly `size` bytes instead of the bill of the
    /// simulator's paid orders; `None` goes back to those. A generated bill is the same for the same date,
    /// kind and size, is produced while it is sent (never held in memory; encrypted bills, which are sealed
    /// whole, up to 64 MiB) and its `hash_value` is computed by a first pass, cached per date, kind and size.
    ///
    /// A single apply can ask for its own size with the request header `Wechatpay-Mock-Bill-Size: <bytes>`
    /// (what a client of the `wechatpay-mock` binary can do), and split an encrypted fund-flow bill into
    /// several files with `Wechatpay-Mock-Bill-Parts: <1..16>`. Use [`Fault::CorruptByte`],
    /// [`Fault::CutAfter`] and [`Fault::TruncatedBody`] on `GET /v3/billdownload/file` (or
    /// `/v3/bill/downloadurl`) to alter or cut a download.
    ///
    /// ```
    /// # fn main() -> Result<(), wechatpay_mock::MockError> {
    /// let server = wechatpay_mock::Server::builder().identities(wechatpay_mock::Identities::shared()?).start_blocking()?;
    /// server.set_bill_size(Some(10 * 1024 * 1024));
    /// server.faults().on_route_n("GET", "/v3/billdownload/file", 1, wechatpay_mock::Fault::CorruptByte(1234));
    /// # Ok(()) }
    /// ```
    pub fn set_bill_size(&self, size: Option<u64>) {
        self.engine.with_state(|state, _| state.bills.default_size = size);
    }

    /// The plain bytes (decrypted, decompressed) of the bill file a `download_url` from a bill apply serves,
    /// while the simulator still keeps it (the last 64 files); for tests that compare what a client wrote.
    pub fn bill_file(&self, download_url: &str) -> Option<Vec<u8>> {
        self.engine.with_state(|state, _| state.bills.plain(download_url))
    }

    // --- callbacks -------------------------------------------------------------------------------

    /// The `TRANSACTION.SUCCESS` callback of a paid order (`TRANSACTION.CLOSED` otherwise).
    ///
    /// # Errors
    /// [`MockError::NotFound`] for an unknown order.
    pub fn transaction_notification(&self, out_trade_no: &str) -> Result<Notification, MockError> {
        Ok(self.engine.event_notification(&Event::Transaction(out_trade_no.to_owned()))?.0)
    }

    /// The `REFUND.*` callback of a refund (after its status).
    ///
    /// # Errors
    /// [`MockError::NotFound`] for an unknown refund.
    pub fn refund_notification(&self, out_refund_no: &str) -> Result<Notification, MockError> {
        Ok(self.engine.event_notification(&Event::Refund(out_refund_no.to_owned()))?.0)
    }

    /// The `MCHTRANSFER.BILL.FINISHED` callback of a transfer bill (its current state).
    ///
    /// # Errors
    /// [`MockError::NotFound`] for an unknown bill.
    pub fn transfer_notification(&self, out_bill_no: &str) -> Result<Notification, MockError> {
        Ok(self.engine.event_notification(&Event::Transfer(out_bill_no.to_owned()))?.0)
    }

    /// Any callback: `resource` is encrypted with the APIv3 key (associated data = `original_type`).
    ///
    /// # Errors
    /// [`MockError::Crypto`] when signing fails.
    pub fn notification(
        &self,
        event_type: &str,
        summary: &str,
        original_type: &str,
        resource: &Value,
    ) -> Result<Notification, MockError> {
        let content = notify::Content { event_type, summary, original_type, resource };
        notify::build(&self.engine.keys, &self.engine.default_key(), &content)
    }

    /// The same callback body signed again, with a header fault applied ([`Fault::TamperedSignature`],
    /// [`Fault::UnknownSerial`], [`Fault::StaleTimestamp`], [`Fault::MissingHeader`],
    /// [`Fault::MissingSignatureHeaders`], [`Fault::SignTestProbe`]; other faults only re-sign).
    ///
    /// # Errors
    /// [`MockError::Crypto`] when signing fails.
    pub fn resign_notification(
        &self,
        notification: &Notification,
        fault: Option<Fault>,
    ) -> Result<Notification, MockError> {
        let mut out = notification.clone();
        out.headers = notify::sign_headers(&self.engine.default_key(), &out.body, fault.as_ref())?;
        Ok(out)
    }

    /// POSTs a callback to an `http://` URL (e.g. the test's own loopback listener) and returns the answer.
    /// Works from any async executor: the exchange runs on the server's runtime.
    ///
    /// # Errors
    /// [`MockError::Delivery`] for a bad URL, a refused connection or no answer within 10 s.
    pub async fn deliver(&self, notification: &Notification, url: &str) -> Result<Delivered, MockError> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let (n, url) = (notification.clone(), url.to_owned());
        self.engine.runtime.spawn(async move {
            let _ = tx.send(notify::post(&url, &n).await);
        });
        rx.await.map_err(|_| MockError::Stopped)?
    }

    /// As [`Server::deliver`], from blocking code.
    ///
    /// # Errors
    /// As [`Server::deliver`].
    pub fn deliver_blocking(&self, notification: &Notification, url: &str) -> Result<Delivered, MockError> {
        let (tx, rx) = std::sync::mpsc::channel();
        let (n, url) = (notification.clone(), url.to_owned());
        self.engine.runtime.spawn(async move {
            let _ = tx.send(notify::post(&url, &n).await);
        });
        rx.recv().map_err(|_| MockError::Stopped)?
    }

    /// Callbacks posted on their own (see [`ServerBuilder::auto_notify`]), in completion order.
    pub fn deliveries(&self) -> Vec<DeliveryRecord> {
        self.engine.deliveries().all()
    }

    /// Waits until at least `count` callbacks posted on their own (see [`ServerBuilder::auto_notify`]) have
    /// been answered or have failed, and returns them all, in completion order. Works from any async
    /// executor: the wait runs on the server's runtime.
    ///
    /// # Errors
    /// [`MockError::Delivery`] when fewer than `count` have ended within `timeout`.
    pub async fn wait_for_deliveries(&self, count: usize, timeout: Duration) -> Result<Vec<DeliveryRecord>, MockError> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.await_deliveries(count, timeout, move |records| drop(tx.send(records)));
        let records = rx.await.map_err(|_| MockError::Stopped)?;
        records.ok_or_else(|| self.too_few_deliveries(count, timeout))
    }

    /// As [`Server::wait_for_deliveries`], from blocking code.
    ///
    /// # Errors
    /// As [`Server::wait_for_deliveries`].
    pub fn wait_for_deliveries_blocking(
        &self,
        count: usize,
        timeout: Duration,
    ) -> Result<Vec<DeliveryRecord>, MockError> {
        let (tx, rx) = std::sync::mpsc::channel();
        self.await_deliveries(count, timeout, move |records| drop(tx.send(records)));
        let records = rx.recv().map_err(|_| MockError::Stopped)?;
        records.ok_or_else(|| self.too_few_deliveries(count, timeout))
    }

    /// Waits on the server's runtime for `count` delivery records (at most `timeout`) and hands them to `done`.
    fn await_deliveries(
        &self,
        count: usize,
        timeout: Duration,
        done: impl FnOnce(Option<Vec<DeliveryRecord>>) + Send + 'static,
    ) {
        let deliveries = Arc::clone(self.engine.deliveries());
        self.engine.runtime.spawn(async move { done(deliveries.at_least(count, timeout).await) });
    }

    fn too_few_deliveries(&self, count: usize, timeout: Duration) -> MockError {
        let ended = self.engine.deliveries().all().len();
        MockError::Delivery(format!(
            "{ended} of the {count} callbacks awaited were delivered within {timeout:?} (is auto_notify on, and \
             is the notify_url an http:// URL that answers?)"
        ))
    }

    // --- time ------------------------------------------------------------------------------------

    /// The clock the server's time-driven state counts with (see [`ServerBuilder::clock`]).
    pub fn clock(&self) -> Clock {
        self.engine.world.clock().clone()
    }

    /// Moves the server's clock ahead by `by` and, before returning, pays, advances and ends everything that
    /// has become due (see [`ServerBuilder::auto_pay`] and [`ServerBuilder::auto_advance`]); their callbacks
    /// are then on their way (see [`Server::wait_for_deliveries`]). With a [`Clock::manual`] this is the only
    /// way time passes, so a test decides exactly what has happened when.
    ///
    /// ```
    /// # fn main() -> Result<(), wechatpay_mock::MockError> {
    /// use std::time::Duration;
    /// use wechatpay_mock::{Clock, Identities, Server};
    /// let server = Server::builder()
    ///     .identities(Identities::shared()?)
    ///     .clock(Clock::manual())
    ///     .auto_advance(Some(Duration::from_secs(60)))
    ///     .start_blocking()?;
    /// server.advance_time(Duration::from_secs(60));
    /// assert_eq!(server.clock().elapsed(), Duration::from_secs(60));
    /// # Ok(()) }
    /// ```
    pub fn advance_time(&self, by: Duration) {
        self.engine.world.clock().advance(by);
        self.engine.catch_up();
    }
}

async fn serve(
    listener: std::net::TcpListener,
    tls_listener: std::net::TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
    engine: Arc<Engine>,
    recorder: Option<Arc<Recorder>>,
    mut stop: tokio::sync::oneshot::Receiver<()>,
) {
    let (Ok(listener), Ok(tls_listener)) =
        (tokio::net::TcpListener::from_std(listener), tokio::net::TcpListener::from_std(tls_listener))
    else {
        return;
    };
    // The time-driven state moves on here, beside the listeners, and stops with them.
    let timers = engine.run_timers();
    tokio::pin!(timers);
    loop {
        tokio::select! {
            _ = &mut stop => break,
            () = &mut timers => {}
            accepted = tls_listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let _ = stream.set_nodelay(true);
                    let (engine, acceptor, recorder) = (Arc::clone(&engine), acceptor.clone(), recorder.clone());
                    tokio::spawn(async move {
                        // The handshake verifies the client certificate against the merchant CA; a client
                        // without one, or with another, never gets to send a request.
                        let handshake = tokio::time::timeout(Duration::from_secs(10), acceptor.accept(stream)).await;
                        let Ok(Ok(stream)) = handshake else {
                            engine.tls_refusals.fetch_add(1, Ordering::Relaxed);
                            return;
                        };
                        engine.tls_connections.fetch_add(1, Ordering::Relaxed);
                        let service = service_fn(move |req| {
                            respond(Arc::clone(&engine), recorder.clone(), Transport::MutualTls, req)
                        });
                        let _ = http1::Builder::new()
                            .title_case_headers(true)
                            .serve_connection(TokioIo::new(stream), service)
                            .await;
                    });
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            },
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    engine.connections.fetch_add(1, Ordering::Relaxed);
                    let _ = stream.set_nodelay(true);
                    let (engine, recorder) = (Arc::clone(&engine), recorder.clone());
                    tokio::spawn(async move {
                        let service =
                            service_fn(move |req| respond(Arc::clone(&engine), recorder.clone(), Transport::Http, req));
                        // A connection error (client gone, dropped by a fault) ends only this connection.
                        let _ = http1::Builder::new()
                            .title_case_headers(true)
                            .serve_connection(TokioIo::new(stream), service)
                            .await;
                    });
                }
                // Out of file descriptors or similar: back off instead of spinning.
                Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
    }
}

async fn respond(
    engine: Arc<Engine>,
    recorder: Option<Arc<Recorder>>,
    transport: Transport,
    req: hyper::Request<Incoming>,
) -> Result<hyper::Response<Payload>, io::Error> {
    let (parts, body) = req.into_parts();
    let target =
        parts.uri.path_and_query().map(|pq| pq.as_str().to_owned()).unwrap_or_else(|| parts.uri.path().to_owned());
    let headers = parts
        .headers
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
        .collect();
    let content_type = parts.headers.get(hyper::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let (body, parsed) = if multipart::is_multipart(content_type) {
        let (head, parsed) = read_multipart(content_type.to_owned(), body).await?;
        (head, Some(parsed))
    } else {
        match Limited::new(body, MAX_BODY).collect().await {
            Ok(collected) => (collected.to_bytes().to_vec(), None),
            Err(_) => return Err(io::Error::other("request body unreadable or too large")),
        }
    };
    let raw = RawRequest { method: parts.method.as_str().to_owned(), target, headers, body };
    let path = raw.target.split('?').next().unwrap_or_default().to_owned();
    let fault = engine.faults.take(&raw.method, &path);
    if let Some(Fault::Delay(delay)) = &fault {
        tokio::time::sleep(*delay).await;
    }
    // RSA work runs on the blocking pool so that the accept loop and other connections never wait on it.
    let (response, delivery) = tokio::task::spawn_blocking(move || {
        // The port check's recording (record.rs): the request as received, then completed with its answer.
        let observed = recorder.as_ref().map(|r| r.observe(&engine, &raw, parsed.as_ref(), transport));
        let (response, delivery) = engine.handle_parsed(&raw, parsed, fault.as_ref());
        if let (Some(recorder), Some(observed)) = (&recorder, observed) {
            recorder.append(observed, (!matches!(delivery, Delivery::Drop)).then_some(&response));
        }
        (response, delivery)
    })
    .await
    .map_err(io::Error::other)?;
    match delivery {
        Delivery::Drop => Err(io::Error::other("connection dropped by fault injection")),
        Delivery::Normal => Ok(to_hyper(response, None)),
        Delivery::Truncate(at) => Ok(to_hyper(response, Some(at))),
        Delivery::Stream(stream, fault) => {
            let len = stream.len();
            let payload = Payload::Stream { receiver: produce(stream, fault), remaining: len };
            Ok(with_payload(response, payload))
        }
    }
}

/// Produces a streamed body on a blocking thread, a few pieces ahead of the connection, applying a fault
/// on the way: a changed byte, or a cut after some bytes (then the connection closes short of its length).
fn produce(stream: Streamed, fault: Option<Fault>) -> tokio::sync::mpsc::Receiver<io::Result<Bytes>> {
    let (sender, receiver) = tokio::sync::mpsc::channel(4);
    tokio::task::spawn_blocking(move || {
        let cut_at = match fault {
            Some(Fault::CutAfter(n)) => Some(n),
            Some(Fault::TruncatedBody) => stream.len().map(|len| len / 2),
            _ => None,
        };
        let corrupt_at = match fault {
            Some(Fault::CorruptByte(at)) => Some(at),
            _ => None,
        };
        // Without a known length, a truncated body loses its last piece: hold one piece back.
        let hold_back = matches!(fault, Some(Fault::TruncatedBody)) && stream.len().is_none();
        let mut sent = 0u64;
        let mut held: Option<Vec<u8>> = None;
        let cut = |sender: &tokio::sync::mpsc::Sender<io::Result<Bytes>>| {
            // Let the bytes already sent reach the client before the connection fails.
            std::thread::sleep(Duration::from_millis(30));
            let _ = sender.blocking_send(Err(io::Error::other("body cut by fault injection")));
        };
        for mut chunk in stream.chunks() {
            if let Some(at) = corrupt_at.and_then(|at| at.checked_sub(sent)) {
                if let Some(byte) = usize::try_from(at).ok().and_then(|at| chunk.get_mut(at)) {
                    *byte ^= 0x5A;
                }
            }
            if let Some(limit) = cut_at {
                let room = usize::try_from(limit.saturating_sub(sent)).unwrap_or(usize::MAX);
                if chunk.len() >= room {
                    chunk.truncate(room);
                    if !chunk.is_empty() && sender.blocking_send(Ok(Bytes::from(chunk))).is_err() {
                        return;
                    }
                    return cut(&sender);
                }
            }
            sent += chunk.len() as u64;
            let chunk = if hold_back { held.replace(chunk) } else { Some(chunk) };
            if let Some(chunk) = chunk {
                if sender.blocking_send(Ok(Bytes::from(chunk))).is_err() {
                    return;
                }
            }
        }
        if hold_back || cut_at.is_some() {
            cut(&sender);
        }
    });
    receiver
}

/// Reads a multipart body as it arrives: returns its first bytes (for the request log) and its parts, each
/// hashed and measured whole but kept only up to [`PART_KEEP`]. A body that is not valid multipart is read to
/// its end and answered 400 by the engine.
async fn read_multipart(
    content_type: String,
    mut body: Incoming,
) -> Result<(Vec<u8>, Result<Vec<Part>, String>), io::Error> {
    let mut head = Vec::new();
    // Bytes received before the boundary is known (it may have to be read from the body's first line).
    let mut pending = Vec::new();
    let mut parser: Option<Result<multipart::Parser, String>> = None;
    let mut total = 0u64;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| io::Error::other(format!("request body unreadable: {e}")))?;
        let Ok(data) = frame.into_data() else { continue };
        total += data.len() as u64;
        if total > MAX_MULTIPART_BODY {
            return Err(io::Error::other("multipart request body too large"));
        }
        head.extend_from_slice(&data[..data.len().min(LOGGED_BODY.saturating_sub(head.len()))]);
        match parser.as_mut() {
            Some(Ok(p)) => {
                if let Err(e) = p.feed(&data) {
                    parser = Some(Err(e));
                }
            }
            Some(Err(_)) => {}
            None => {
                pending.extend_from_slice(&data);
                if multipart::boundary_known(&content_type, &pending) {
                    let boundary = multipart::boundary(&content_type, &pending).unwrap_or_default();
                    let started = multipart::Parser::new(&boundary, PART_KEEP);
                    parser = Some(started.and_then(|mut p| p.feed(&std::mem::take(&mut pending)).map(|()| p)));
                }
            }
        }
    }
    let parts = match parser {
        Some(parser) => parser.and_then(multipart::Parser::finish),
        None => {
            let boundary = multipart::boundary(&content_type, &pending).unwrap_or_default();
            multipart::parse(&pending, &boundary)
        }
    };
    Ok((head, parts))
}

/// The answer, with its body cut after `truncate_at` bytes when asked.
fn to_hyper(mut response: RawResponse, truncate_at: Option<usize>) -> hyper::Response<Payload> {
    let full_len = response.body.len();
    let mut data = Bytes::from(std::mem::take(&mut response.body));
    let payload = match truncate_at {
        Some(at) if at < full_len => {
            data.truncate(at);
            Payload::Full {
                data: Some(data),
                cut: Some(Box::pin(tokio::time::sleep(Duration::from_millis(30)))),
                announced: Some(full_len as u64),
            }
        }
        _ => Payload::Full { data: Some(data), cut: None, announced: None },
    };
    with_payload(response, payload)
}

fn with_payload(response: RawResponse, payload: Payload) -> hyper::Response<Payload> {
    let mut builder = hyper::Response::builder().status(response.status);
    for (name, value) in &response.headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    if let Payload::Full { announced: Some(len), .. } = &payload {
        builder = builder.header("Content-Length", len.to_string());
    }
    let status = response.status;
    builder.body(payload).unwrap_or_else(|_| {
        // Only reachable with a status outside 100..=999 from a Status fault: answer 500 instead.
        let mut r = hyper::Response::new(Payload::Full {
            data: Some(Bytes::from(format!(r#"{{"code":"SYSTEM_ERROR","message":"invalid status {status}"}}"#))),
            cut: None,
            announced: None,
        });
        *r.status_mut() = hyper::StatusCode::INTERNAL_SERVER_ERROR;
        r
    })
}

/// A response body. A truncated answer sends its first bytes, waits a moment (so they are flushed) and
/// then fails, which makes hyper close the connection short of the announced `Content-Length`. A streamed
/// answer (a bill file) arrives piece by piece from its producer.
enum Payload {
    Full { data: Option<Bytes>, cut: Option<Pin<Box<tokio::time::Sleep>>>, announced: Option<u64> },
    Stream { receiver: tokio::sync::mpsc::Receiver<io::Result<Bytes>>, remaining: Option<u64> },
}

impl Body for Payload {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        match self.get_mut() {
            Payload::Full { data, cut, .. } => {
                if let Some(data) = data.take() {
                    if !data.is_empty() {
                        return Poll::Ready(Some(Ok(Frame::data(data))));
                    }
                }
                if let Some(sleep) = cut.as_mut() {
                    if sleep.as_mut().poll(cx).is_pending() {
                        return Poll::Pending;
                    }
                    *cut = None;
                    return Poll::Ready(Some(Err(io::Error::other("body truncated by fault injection"))));
                }
                Poll::Ready(None)
            }
            Payload::Stream { receiver, remaining } => match receiver.poll_recv(cx) {
                Poll::Pending => Poll::Pending,
                Poll::Ready(Some(Ok(chunk))) => {
                    if let Some(left) = remaining.as_mut() {
                        *left = left.saturating_sub(chunk.len() as u64);
                    }
                    Poll::Ready(Some(Ok(Frame::data(chunk))))
                }
                Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e))),
                Poll::Ready(None) => Poll::Ready(None),
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            Payload::Full { data, cut, .. } => cut.is_none() && data.as_ref().is_none_or(Bytes::is_empty),
            Payload::Stream { .. } => false,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Payload::Full { cut: None, data: Some(d), .. } => SizeHint::with_exact(d.len() as u64),
            Payload::Full { cut: None, data: None, .. } => SizeHint::with_exact(0),
            Payload::Full { .. } => SizeHint::default(),
            Payload::Stream { remaining: Some(left), .. } => SizeHint::with_exact(*left),
            Payload::Stream { remaining: None, .. } => SizeHint::default(),
        }
    }
}
