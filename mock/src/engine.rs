//! The transport-free core: one request in, one answer out (checks, routing, state, signing, faults).

use std::collections::VecDeque;
use std::ops::Deref;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::Duration;

use serde_json::Value;

use crate::auth::{self, NonceCache, SignedRequest};
use crate::catalog::Catalog;
use crate::error::MockError;
use crate::faults::{Fault, FaultHandle};
use crate::identities::{Identities, Platform};
use crate::keys::{Keys, PlatformEntry, WechatKey};
use crate::multipart;
use crate::notify::{self, DeliveryRecord, Notification};
use crate::reply::{Reply, Signing, Streamed, header};
use crate::routes::{self, Ctx, Lookup};
use crate::state::{Event, Moment, State, World};
use crate::util::{fill_random, hex_upper, now_secs, parse_query};

/// Which key signs answers when the request's `Wechatpay-Serial` does not name one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ResponseSigner {
    /// The platform certificate (serial = certificate serial). The default.
    #[default]
    PlatformCertificate,
    /// The WeChat Pay public key (serial = `PUB_KEY_ID_...`).
    PublicKey,
}

/// A request as received, for [`Server::dispatch`](crate::Server::dispatch) and [`Server::received_requests`](crate::Server::received_requests).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RawRequest {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The request target exactly as sent: path and query (`/v3/x?a=1`).
    pub target: String,
    /// Header names and values (names compared case-insensitively).
    pub headers: Vec<(String, String)>,
    /// The body bytes exactly as sent.
    pub body: Vec<u8>,
}

/// An answer: status, headers, body.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RawResponse {
    /// The HTTP status.
    pub status: u16,
    /// Header names and values.
    pub headers: Vec<(String, String)>,
    /// The body bytes.
    pub body: Vec<u8>,
}

impl RawResponse {
    /// A header value by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }
}

/// How the transport must send an answer.
#[derive(Debug, Clone)]
pub(crate) enum Delivery {
    Normal,
    /// Close the connection without answering.
    Drop,
    /// Send the headers and this many bytes of the body, then close.
    Truncate(usize),
    /// Produce the body while sending it (bill files): `len` is announced, the fault (if any) applied on the way.
    Stream(Streamed, Option<Fault>),
}

/// Server settings fixed at start.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) window: i64,
    pub(crate) signer: ResponseSigner,
    pub(crate) platform_certificates: bool,
    pub(crate) auto_notify: bool,
}

/// Every platform certificate of the account, in the order added, and which one signs answers.
#[derive(Clone)]
struct PlatformSet {
    entries: Vec<Arc<PlatformEntry>>,
    signing: usize,
}

/// A key that signs or decrypts: one of the fixed keys, or a platform certificate's that may be rotated away
/// while an answer is being signed.
pub(crate) enum KeyRef<'a> {
    Fixed(&'a WechatKey),
    Platform(Arc<PlatformEntry>),
}

impl Deref for KeyRef<'_> {
    type Target = WechatKey;

    fn deref(&self) -> &WechatKey {
        match self {
            KeyRef::Fixed(key) => key,
            KeyRef::Platform(entry) => &entry.key,
        }
    }
}

/// How many received requests [`Engine::received`] keeps.
const LOG_CAPACITY: usize = 512;

/// Bodies longer than this are kept truncated in the request log (uploads can be large).
const LOG_BODY_LIMIT: usize = 1024 * 1024;

pub(crate) struct Engine {
    pub(crate) ids: Identities,
    pub(crate) keys: Keys,
    pub(crate) settings: Settings,
    pub(crate) base_uri: String,
    nonces: Mutex<NonceCache>,
    /// Every object the simulator keeps, its clock and its timers.
    pub(crate) world: World,
    pub(crate) faults: FaultHandle,
    pub(crate) requests: AtomicU64,
    pub(crate) connections: AtomicU64,
    /// Mutual-TLS connections whose handshake succeeded, and those refused.
    pub(crate) tls_connections: AtomicU64,
    pub(crate) tls_refusals: AtomicU64,
    log: Mutex<VecDeque<RawRequest>>,
    deliveries: Arc<Deliveries>,
    pub(crate) runtime: tokio::runtime::Handle,
    /// What APIv2's `/risk/getpublickey` answers (the platform key, PKCS#1 PEM).
    v2_public_key_pem: String,
    platforms: RwLock<PlatformSet>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

// The platform set is replaced whole under the lock, so a poisoned lock still holds a consistent set.
fn read<T>(m: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    m.read().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn write<T>(m: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    m.write().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A callback on its way: where it goes, the label and id of its [`DeliveryRecord`], its headers and body.
struct Outgoing {
    url: String,
    event_type: String,
    notification_id: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

/// The outcomes of the callbacks posted on their own, and a signal for those who wait for them.
#[derive(Default)]
pub(crate) struct Deliveries {
    records: Mutex<Vec<DeliveryRecord>>,
    added: tokio::sync::Notify,
}

impl Deliveries {
    fn push(&self, record: DeliveryRecord) {
        lock(&self.records).push(record);
        self.added.notify_waiters();
    }

    pub(crate) fn all(&self) -> Vec<DeliveryRecord> {
        lock(&self.records).clone()
    }

    /// Every record once there are at least `count`, or `None` after `timeout`.
    pub(crate) async fn at_least(&self, count: usize, timeout: Duration) -> Option<Vec<DeliveryRecord>> {
        let wait = async {
            loop {
                let added = self.added.notified();
                tokio::pin!(added);
                // Registered before the look, so that a record pushed in between is not missed.
                added.as_mut().enable();
                let records = self.all();
                if records.len() >= count {
                    return records;
                }
                added.await;
            }
        };
        tokio::time::timeout(timeout, wait).await.ok()
    }
}

fn request_id() -> String {
    let mut raw = [0u8; 16];
    fill_random(&mut raw);
    hex_upper(&raw)
}

impl Engine {
    pub(crate) fn new(
        ids: Identities,
        settings: Settings,
        world: World,
        base_uri: String,
        runtime: tokio::runtime::Handle,
    ) -> Result<Engine, MockError> {
        let keys = Keys::new(&ids)?;
        let first = PlatformEntry {
            key: WechatKey::new(&ids.platform.serial, &ids.platform.private_key_pem)?,
            platform: ids.platform.clone(),
        };
        Ok(Engine {
            platforms: RwLock::new(PlatformSet { entries: vec![Arc::new(first)], signing: 0 }),
            v2_public_key_pem: keys.platform.public_pkcs1_pem(),
            keys,
            ids,
            settings,
            base_uri,
            nonces: Mutex::new(NonceCache::default()),
            world,
            faults: FaultHandle::default(),
            requests: AtomicU64::new(0),
            connections: AtomicU64::new(0),
            tls_connections: AtomicU64::new(0),
            tls_refusals: AtomicU64::new(0),
            log: Mutex::new(VecDeque::new()),
            deliveries: Arc::new(Deliveries::default()),
            runtime,
        })
    }

    /// What the APIv2 handlers need from the account.
    pub(crate) fn v2_account(&self, now: i64) -> crate::v2::Account<'_> {
        crate::v2::Account {
            mchid: &self.keys.mchid,
            apiv2_key: &self.ids.apiv2_key,
            rsa_public_key_pem: &self.v2_public_key_pem,
            now,
        }
    }

    /// The key answers are signed with unless the request names another.
    pub(crate) fn default_key(&self) -> KeyRef<'_> {
        match self.settings.signer {
            ResponseSigner::PlatformCertificate if self.settings.platform_certificates => {
                let set = read(&self.platforms);
                KeyRef::Platform(Arc::clone(&set.entries[set.signing]))
            }
            _ => KeyRef::Fixed(&self.keys.public_key),
        }
    }

    /// The platform certificates `GET /v3/certificates` lists: none for a merchant in public-key-only mode.
    pub(crate) fn platform_certificates(&self) -> Vec<Arc<PlatformEntry>> {
        if self.settings.platform_certificates { read(&self.platforms).entries.clone() } else { Vec::new() }
    }

    /// The key a `Wechatpay-Serial` value names: a listed platform certificate or the WeChat Pay public key.
    pub(crate) fn wechat_key(&self, serial: &str) -> Option<KeyRef<'_>> {
        let platform =
            self.platform_certificates().into_iter().find(|e| e.platform.serial.eq_ignore_ascii_case(serial));
        match platform {
            Some(entry) => Some(KeyRef::Platform(entry)),
            None => self.keys.public_key_named(serial).map(KeyRef::Fixed),
        }
    }

    /// The platform certificate that signs answers and callbacks.
    pub(crate) fn signing_platform(&self) -> Platform {
        let set = read(&self.platforms);
        set.entries[set.signing].platform.clone()
    }

    /// Adds a platform certificate with a fresh key; `sign` makes it the one that signs from now on.
    pub(crate) fn add_platform(&self, validity: (i64, i64), sign: bool) -> Result<Platform, MockError> {
        if validity.1 <= validity.0 {
            return Err(MockError::InvalidState(format!(
                "a certificate must expire after it becomes effective (effective {}, expire {})",
                validity.0, validity.1
            )));
        }
        let platform = Platform::generate(validity)?;
        let entry = PlatformEntry { key: WechatKey::new(&platform.serial, &platform.private_key_pem)?, platform };
        let mut set = write(&self.platforms);
        set.entries.push(Arc::new(entry));
        if sign {
            set.signing = set.entries.len() - 1;
        }
        Ok(set.entries[set.entries.len() - 1].platform.clone())
    }

    /// Makes the listed platform certificate `serial` the one that signs.
    pub(crate) fn sign_with_platform(&self, serial: &str) -> Result<(), MockError> {
        let mut set = write(&self.platforms);
        let index = set
            .entries
            .iter()
            .position(|e| e.platform.serial.eq_ignore_ascii_case(serial))
            .ok_or_else(|| MockError::NotFound(format!("platform certificate {serial}")))?;
        set.signing = index;
        Ok(())
    }

    /// Runs `f` on the state after it caught up with the clock, then sends the callbacks that caused.
    pub(crate) fn with_state<R>(&self, f: impl FnOnce(&mut State, Moment) -> R) -> R {
        let (result, events) = self.world.with(f);
        self.send_events(events);
        result
    }

    /// Moves the state on to the clock's time now and sends the callbacks that caused.
    pub(crate) fn catch_up(&self) {
        self.send_events(self.world.catch_up());
    }

    pub(crate) fn received(&self) -> Vec<RawRequest> {
        lock(&self.log).iter().cloned().collect()
    }

    pub(crate) fn deliveries(&self) -> &Arc<Deliveries> {
        &self.deliveries
    }

    /// Processes one request. `fault` is the fault drawn for it (delays are applied by the transport).
    pub(crate) fn handle(&self, req: &RawRequest, fault: Option<&Fault>) -> (RawResponse, Delivery) {
        self.handle_parsed(req, None, fault)
    }

    /// As [`Engine::handle`], for a multipart request whose body was split into parts as it streamed in
    /// (`req.body` then holds only its first bytes, for the request log).
    pub(crate) fn handle_parsed(
        &self,
        req: &RawRequest,
        parts: Option<Result<Vec<multipart::Part>, String>>,
        fault: Option<&Fault>,
    ) -> (RawResponse, Delivery) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        {
            let mut log = lock(&self.log);
            if log.len() == LOG_CAPACITY {
                log.pop_front();
            }
            let mut logged = req.clone();
            logged.body.truncate(LOG_BODY_LIMIT);
            log.push_back(logged);
        }
        let key = header(&req.headers, "wechatpay-serial")
            .and_then(|s| self.wechat_key(s))
            .unwrap_or_else(|| self.default_key());
        match fault {
            Some(Fault::DropConnection) => return (RawResponse::default(), Delivery::Drop),
            Some(Fault::Status(code)) => {
                let reply =
                    Reply::error(*code, "SYSTEM_ERROR", "simulated server error (fault injection), retry later");
                return (self.finish(reply, &key, None), Delivery::Normal);
            }
            _ => {}
        }
        let mut reply = self.process(req, parts);
        if let Some(stream) = reply.stream.take() {
            let response = self.finish(reply, &key, fault);
            return match fault {
                Some(Fault::DropAfterProcessing) => (response, Delivery::Drop),
                _ => (response, Delivery::Stream(stream, fault.cloned())),
            };
        }
        let mut response = self.finish(reply, &key, fault);
        let delivery = match fault {
            Some(Fault::DropAfterProcessing) => Delivery::Drop,
            Some(Fault::TruncatedBody) => Delivery::Truncate(response.body.len() / 2),
            Some(Fault::CutAfter(n)) => Delivery::Truncate(usize::try_from(*n).unwrap_or(usize::MAX)),
            Some(Fault::CorruptByte(at)) => {
                if let Some(byte) = usize::try_from(*at).ok().and_then(|at| response.body.get_mut(at)) {
                    *byte ^= 0x5A;
                }
                Delivery::Normal
            }
            _ => Delivery::Normal,
        };
        (response, delivery)
    }

    /// Signs (when the reply is signed) and adds the standard headers.
    fn finish(&self, reply: Reply, key: &WechatKey, fault: Option<&Fault>) -> RawResponse {
        let mut headers = vec![("Request-ID".to_owned(), request_id())];
        if let Some(ct) = reply.content_type {
            headers.push(("Content-Type".to_owned(), ct.to_owned()));
        }
        headers.extend(reply.extra_headers.iter().map(|(k, v)| ((*k).to_owned(), v.clone())));
        let signed_bytes = match &reply.signing {
            Signing::Body => Some(reply.body.as_slice()),
            Signing::Over(bytes) => Some(bytes.as_slice()),
            Signing::Unsigned => None,
        };
        if let Some(bytes) = signed_bytes {
            match crate::sign::signature_headers(key, bytes, fault) {
                Ok(sig) => headers.extend(sig.into_iter().map(|(k, v)| (k.to_owned(), v))),
                Err(_) => {
                    return RawResponse {
                        status: 500,
                        headers,
                        body: br#"{"code":"SYSTEM_ERROR","message":"signing the answer failed"}"#.to_vec(),
                    };
                }
            }
        }
        RawResponse { status: reply.status, headers, body: reply.body }
    }

    fn process(&self, req: &RawRequest, parsed: Option<Result<Vec<multipart::Part>, String>>) -> Reply {
        let (path, query) = match req.target.split_once('?') {
            Some((p, q)) => (p, q),
            None => (req.target.as_str(), ""),
        };
        if req.method == "POST" && crate::v2_endpoints::lookup(path).is_some() {
            return self.with_state(|state, now| {
                crate::v2::handle(path, &req.body, &self.v2_account(now.secs), &mut state.apiv2, now.at)
            });
        }
        let content_type = header(&req.headers, "content-type").unwrap_or_default();
        let parsed = parsed.or_else(|| {
            multipart::boundary(content_type, &req.body).map(|boundary| multipart::parse(&req.body, &boundary))
        });
        let parts = match parsed {
            Some(Ok(parts)) => Some(parts),
            Some(Err(e)) => return Reply::param_error("body", "body", format!("bad multipart body: {e}")),
            None => None,
        };
        let signed_body: &[u8] = match &parts {
            Some(parts) => match parts.iter().find(|p| p.name == "meta") {
                Some(meta) if meta.complete() => &meta.data,
                Some(_) => return Reply::param_error("meta", "body", "the meta part is too long to be a meta JSON"),
                None => return Reply::missing("meta", "body"),
            },
            None => &req.body,
        };
        let now = now_secs();
        let check = auth::check(
            &self.keys,
            &self.nonces,
            self.settings.window,
            now,
            &SignedRequest {
                method: &req.method,
                target: &req.target,
                authorization: header(&req.headers, "authorization"),
                signed_body,
            },
        );
        if let Err(message) = check {
            return Reply::error(401, "SIGN_ERROR", message);
        }
        let json = if parts.is_none() && !req.body.is_empty() {
            match serde_json::from_slice::<Value>(&req.body) {
                Ok(v) => Some(v),
                Err(e) => {
                    return Reply::param_error("body", "body", format!("the request body is not valid JSON: {e}"));
                }
            }
        } else {
            None
        };
        let query = parse_query(query);
        let catalog = Catalog::load();
        let route = catalog.route(&req.method, path);
        if let Some(route) = &route {
            // For uploads the schema describes the meta part.
            let meta = parts.is_some().then(|| serde_json::from_slice::<Value>(signed_body).ok()).flatten();
            if let Err(e) = route.validate(&query, json.as_ref().or(meta.as_ref())) {
                let in_query = query.iter().any(|(k, _)| *k == e.field) || e.message.contains("query parameter");
                return Reply::param_error(&e.field, if in_query { "query" } else { "body" }, e.message);
            }
        }
        let (endpoint, params) = match routes::lookup_route(&req.method, path) {
            Lookup::Found(endpoint, params) => (endpoint, params),
            Lookup::WrongMethod => return method_not_allowed(&req.method, path),
            Lookup::None => {
                return match route {
                    Some(route) => routes::fallback::answer(&route, path, &self.keys.mchid),
                    None if catalog.knows_path(path) => method_not_allowed(&req.method, path),
                    None => {
                        Reply::error(404, "NOT_FOUND", format!("{} {path} is not a WeChat Pay endpoint", req.method))
                    }
                };
            }
        };
        let platform_certificates = self.platform_certificates();
        self.with_state(|state, now| {
            let ctx = Ctx {
                query,
                headers: &req.headers,
                json,
                parts,
                params,
                now: now.secs,
                at: now.at,
                keys: &self.keys,
                platform_certificates,
                base_uri: &self.base_uri,
            };
            routes::dispatch(state, endpoint, &ctx)
        })
    }

    /// The APIv3 callback of an event as its object now stands, with its `notify_url`.
    pub(crate) fn event_notification(&self, event: &Event) -> Result<(Notification, Option<String>), MockError> {
        let callback = self.world.peek(|state| state.callback(event)).ok_or_else(|| {
            MockError::NotFound(match event {
                Event::Transaction(no) => format!("order {no}"),
                Event::Refund(no) => format!("refund {no}"),
                Event::Transfer(no) => format!("transfer bill {no}"),
                Event::V2Payment(no) => format!("APIv2 order {no}"),
                Event::V2Refund(no) => format!("APIv2 refund {no}"),
            })
        })?;
        let content = notify::Content {
            event_type: callback.event_type,
            summary: callback.summary,
            original_type: callback.original_type,
            resource: &callback.resource,
        };
        Ok((notify::build(&self.keys, &self.default_key(), &content)?, callback.notify_url))
    }

    /// The callback an event causes, when it has a notify URL.
    fn callback_of(&self, event: &Event) -> Option<Outgoing> {
        match event {
            Event::V2Payment(no) | Event::V2Refund(no) => {
                let account = self.v2_account(self.world.clock().wall_secs());
                let (label, url, body) = self.world.peek(|state| {
                    let ledger = &mut state.apiv2;
                    if matches!(event, Event::V2Payment(_)) {
                        let url = ledger.orders.get(no).and_then(|o| o.notify_url.clone());
                        ("APIV2.PAYMENT", url, crate::v2::payment_notification(ledger, no, &account))
                    } else {
                        let url =
                            ledger.refunds.iter().find(|r| &r.out_refund_no == no).and_then(|r| r.notify_url.clone());
                        ("APIV2.REFUND", url, crate::v2::refund_notification(ledger, no, &account))
                    }
                });
                Some(Outgoing {
                    url: url?,
                    event_type: label.to_owned(),
                    notification_id: no.clone(),
                    headers: vec![("Content-Type".to_owned(), "text/xml".to_owned())],
                    body: body?,
                })
            }
            _ => {
                let (notification, url) = self.event_notification(event).ok()?;
                Some(Outgoing {
                    url: url?,
                    event_type: notification.event_type,
                    notification_id: notification.id,
                    headers: notification.headers,
                    body: notification.body,
                })
            }
        }
    }

    /// Moves the time-driven state on by its timers, sending the callbacks, for as long as the future runs.
    pub(crate) async fn run_timers(&self) {
        self.world.run_timers(|events| self.send_events(events)).await;
    }

    /// With auto-notify on, posts the callbacks of `events` to their `http://` notify URLs in the background.
    fn send_events(&self, events: Vec<Event>) {
        if !self.settings.auto_notify {
            return;
        }
        for event in events {
            let Some(callback) = self.callback_of(&event).filter(|c| c.url.starts_with("http://")) else {
                continue;
            };
            let deliveries = Arc::clone(&self.deliveries);
            self.runtime.spawn(async move {
                let Outgoing { url, event_type, notification_id, headers, body } = callback;
                let result = notify::post_raw(&url, &headers, body).await;
                deliveries.push(DeliveryRecord {
                    url,
                    event_type,
                    notification_id,
                    result: result.map(|d| d.status).map_err(|e| e.to_string()),
                });
            });
        }
    }
}

fn method_not_allowed(method: &str, path: &str) -> Reply {
    Reply::error(405, "METHOD_NOT_ALLOWED", format!("{path} exists but does not accept {method}"))
}
