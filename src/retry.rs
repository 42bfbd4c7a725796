//! Opt-in retries ([`Retry`]): exponential backoff with jitter, every attempt signed afresh, and an optional
//! failover to WeChat Pay's backup host.
//!
//! Which failures are retried depends on whether the request may have been processed, because a payment sent twice
//! is worse than a payment that failed:
//! - never processed, so always safe: the connection could not be made (nothing was sent), and `429` (WeChat Pay
//!   refused the request before processing it);
//! - maybe processed: a `5xx` or `SYSTEM_ERROR` answer, an APIv2 `SYSTEMERROR`, a timeout or a connection cut after
//!   the request went out. Retried only for `GET` (reads), or for every method with [`Retry::retry_writes`], which
//!   is right when every write carries the merchant's own number (`out_trade_no`, `out_refund_no`,
//!   `out_bill_no`...): WeChat Pay treats a repeat of the same number as the same request, and asks for exactly
//!   such a retry ("use the same parameters") on `SYSTEM_ERROR`;
//! - anything else (4xx, a failed signature check, an answer too large) is returned at once.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use reqwest::Method;
use url::Url;

use crate::client::{Core, Prepared, Streaming};
use crate::config::BACKUP_BASE_URI;
use crate::error::{Error, Result};
use crate::response::Response;

/// When and how often a failed request is sent again; off unless configured with
/// [`ConfigBuilder::retry`](crate::ConfigBuilder::retry) (`retry` in the PHP-shaped config). See the module notes
/// for which failures are retried: by default, only those where the request was certainly not processed, plus
/// any failure of a `GET`.
///
/// ```
/// use std::time::Duration;
/// use wechatpay::Retry;
///
/// let retry = Retry::default().attempts(4).backoff(Duration::from_millis(100), Duration::from_secs(2)).failover();
/// assert_eq!(retry.max_attempts, 4);
/// assert_eq!(retry.failover_to.as_deref(), Some(wechatpay::BACKUP_BASE_URI));
/// assert!(!retry.retry_writes);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Retry {
    /// How many times a request is sent at most, the first time included (default 3).
    pub max_attempts: u32,
    /// The wait before the first retry (default 200 ms); it doubles for each next one, up to `max_backoff`, and
    /// each wait is drawn at random between half of it and all of it, so that clients do not retry in step.
    pub initial_backoff: Duration,
    /// The longest wait between two attempts (default 5 s).
    pub max_backoff: Duration,
    /// Where to send the next attempts once the configured host cannot be reached (a connection failure: the
    /// request was not sent): the scheme, host and port of this URI replace the base URI's, whose path is kept.
    /// `None` (default) stays on the configured host; [`failover`](Self::failover) sets WeChat Pay's backup host.
    /// Requests for another host (an APIv2 `base_uri` option) never fail over.
    pub failover_to: Option<String>,
    /// Whether requests other than `GET` are also retried after failures that may come after WeChat Pay
    /// processed them (5xx, `SYSTEM_ERROR`, `SYSTEMERROR`, timeouts, cut connections). Default `false`: set it only
    /// if every write you send is idempotent by its merchant number.
    pub retry_writes: bool,
}

impl Default for Retry {
    fn default() -> Self {
        Retry {
            max_attempts: 3,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(5),
            failover_to: None,
            retry_writes: false,
        }
    }
}

impl Retry {
    /// Sends a request at most `attempts` times in all (1: never retry).
    ///
    /// ```
    /// assert_eq!(wechatpay::Retry::default().attempts(5).max_attempts, 5);
    /// ```
    pub fn attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts;
        self
    }

    /// The first wait and the longest one.
    ///
    /// ```
    /// use std::time::Duration;
    /// let retry = wechatpay::Retry::default().backoff(Duration::from_millis(50), Duration::from_secs(1));
    /// assert_eq!((retry.initial_backoff, retry.max_backoff), (Duration::from_millis(50), Duration::from_secs(1)));
    /// ```
    pub fn backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.initial_backoff = initial;
        self.max_backoff = max;
        self
    }

    /// Fails over to WeChat Pay's backup host ([`BACKUP_BASE_URI`], `api2.mch.weixin.qq.com`) when the configured
    /// one cannot be reached.
    ///
    /// ```
    /// let retry = wechatpay::Retry::default().failover();
    /// assert_eq!(retry.failover_to.as_deref(), Some("https://api2.mch.weixin.qq.com/"));
    /// ```
    pub fn failover(self) -> Self {
        self.failover_to(BACKUP_BASE_URI)
    }

    /// Fails over to `base_uri` (its scheme, host and port) when the configured host cannot be reached.
    ///
    /// ```
    /// let retry = wechatpay::Retry::default().failover_to("https://wechatpay-backup.example.com/");
    /// assert!(retry.failover_to.is_some());
    /// ```
    pub fn failover_to(mut self, base_uri: impl Into<String>) -> Self {
        self.failover_to = Some(base_uri.into());
        self
    }

    /// Also retries writes after failures that may come after they were processed (see the field).
    ///
    /// ```
    /// assert!(wechatpay::Retry::default().retry_writes(true).retry_writes);
    /// ```
    pub fn retry_writes(mut self, retry_writes: bool) -> Self {
        self.retry_writes = retry_writes;
        self
    }

    /// The wait before retry number `retry` (1 for the first): exponential, capped, with jitter.
    fn delay(&self, retry: u32) -> Duration {
        let doubled =
            self.initial_backoff.saturating_mul(1u32.checked_shl(retry.saturating_sub(1)).unwrap_or(u32::MAX));
        let cap = doubled.min(self.max_backoff);
        let mut random = [0u8; 8];
        // Without randomness the wait is the whole cap: still correct, only less spread.
        let fraction = match getrandom::fill(&mut random) {
            Ok(()) => u64::from_le_bytes(random) as f64 / u64::MAX as f64,
            Err(_) => 1.0,
        };
        cap / 2 + cap.mul_f64(fraction / 2.0)
    }
}

/// What a failed attempt allows.
#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    /// Do not retry.
    Stop,
    /// Retry; `unreachable` says the host could not be reached (the case for failover).
    Retry { unreachable: bool },
}

/// Whether `err`, the outcome of a `method` request, may be retried under `policy`.
fn verdict(policy: &Retry, method: &Method, err: &Error) -> Verdict {
    let maybe_processed_ok = method == Method::GET || method == Method::HEAD || policy.retry_writes;
    match err {
        err if cannot_be_made(err) => Verdict::Stop,
        err if not_sent(err) => Verdict::Retry { unreachable: true },
        Error::Api { status: 429, .. } => Verdict::Retry { unreachable: false },
        Error::Api { status, code, .. } if (*status >= 500 || code == "SYSTEM_ERROR") && maybe_processed_ok => {
            Verdict::Retry { unreachable: false }
        }
        Error::ApiV2(failure) if failure.err_code.as_deref() == Some("SYSTEMERROR") && maybe_processed_ok => {
            Verdict::Retry { unreachable: false }
        }
        Error::Timeout { .. } | Error::Transport { .. } if maybe_processed_ok => Verdict::Retry { unreachable: false },
        _ => Verdict::Stop,
    }
}

/// Whether `err` says the HTTP layer could not make the request at all: the next attempt would fail alike.
fn cannot_be_made(err: &Error) -> bool {
    matches!(err, Error::Transport { source: Some(source), .. }
        if source.downcast_ref::<reqwest::Error>().is_some_and(reqwest::Error::is_builder))
}

/// Whether `err` is a failure to connect: only that proves the request was not sent.
fn not_sent(err: &Error) -> bool {
    matches!(err, Error::Transport { source: Some(source), .. }
        if source.downcast_ref::<reqwest::Error>().is_some_and(reqwest::Error::is_connect))
}

impl Core {
    /// Signs, sends, reads and verifies, retrying as the configured [`Retry`] allows. Each attempt is signed afresh
    /// (a new nonce and timestamp); an APIv2 payload, signed with its `nonce_str` when prepared, is sent again as it
    /// is, as WeChat Pay asks for `SYSTEMERROR`.
    pub(crate) async fn run(self: Arc<Self>, prepared: Prepared) -> Result<Response> {
        self.with_retries(prepared, |core, prepared| core.execute(prepared)).await
    }

    /// Opens a streamed download as [`run`](Self::run) makes a request: retried until its answer's head is in,
    /// before any of its body reaches the caller.
    pub(crate) async fn open_stream_with_retries(self: Arc<Self>, prepared: Prepared) -> Result<Streaming> {
        self.with_retries(prepared, |core, prepared| async move { core.open_stream(prepared).await }).await
    }

    /// `attempt`, repeated as the configured [`Retry`] allows, each time with a fresh copy of `prepared`.
    async fn with_retries<T, Attempt, Outcome>(self: Arc<Self>, prepared: Prepared, attempt: Attempt) -> Result<T>
    where
        Attempt: Fn(Arc<Self>, Prepared) -> Outcome,
        Outcome: Future<Output = Result<T>>,
    {
        let Some(policy) = self.config.retry.clone() else {
            return attempt(self, prepared).await;
        };
        let mut current = prepared;
        let mut attempt_number = 1;
        loop {
            let next = (attempt_number < policy.max_attempts).then(|| current.duplicate());
            let outcome = attempt(Arc::clone(&self), current).await;
            let (Err(err), Some(mut next)) = (&outcome, next) else { return outcome };
            let Verdict::Retry { unreachable } = verdict(&policy, &next.method, err) else { return outcome };
            // Only requests for the configured host fail over: an APIv2 request to a host of its own (`base_uri`:
            // `risk/getpublickey` on fraud.mch.weixin.qq.com, say) has no backup there.
            if unreachable && next.url.origin() == self.config.base_uri.origin() {
                if let Some(failover) = &self.config.retry_failover {
                    fail_over(&mut next.url, failover);
                }
            }
            let delay = policy.delay(attempt_number);
            tracing::info!(
                method = %next.method,
                // Host and path only: an APIv2 GET carries its signature in the query.
                host = next.url.host_str().unwrap_or_default(),
                path = next.url.path(),
                attempt = attempt_number,
                error = %err,
                delay_ms = delay.as_millis() as u64,
                "retrying a failed request"
            );
            tokio::time::sleep(delay).await;
            current = next;
            attempt_number += 1;
        }
    }
}

/// Moves `url` to the scheme, host and port of `failover`.
fn fail_over(url: &mut Url, failover: &Url) {
    // Both are http(s) URLs with a host, checked when the config was built: these cannot fail.
    let _ = url.set_scheme(failover.scheme());
    let _ = url.set_host(failover.host_str());
    let _ = url.set_port(failover.port());
}

/// Checks a failover URI for the config: an http(s) origin, under the same https rule as the base URI.
pub(crate) fn failover_origin(given: &str, allow_plain_http: bool) -> std::result::Result<Url, String> {
    let url = Url::parse(given).map_err(|err| format!("{given:?} is not a URL: {err}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(format!("{given:?} must be an http:// or https:// URL with a host"));
    }
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() {
        return Err(format!(
            "{given:?} must be only a scheme, host and port: the base URI's path is kept when failing over"
        ));
    }
    crate::config::check_plain_http(&url, allow_plain_http)?;
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(status: u16, code: &str) -> Error {
        Error::Api {
            status,
            code: code.into(),
            message: String::new(),
            detail: None,
            request_id: None,
            body: Default::default(),
        }
    }

    /// A real failure to connect: nothing listens on port 1.
    fn refused() -> Error {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let err = runtime.block_on(reqwest::Client::new().get("http://127.0.0.1:1/").send()).unwrap_err();
        Error::Transport { method: "POST".into(), url: "u".into(), reason: "not sent".into(), source: Some(err.into()) }
    }

    #[test]
    fn only_what_was_certainly_not_processed_is_retried_for_writes_by_default() {
        let policy = Retry::default();
        let not_sent = refused();
        let after = Error::Transport {
            method: "POST".into(),
            url: "u".into(),
            reason: "the connection ended before the whole answer arrived".into(),
            source: None,
        };
        let timeout = Error::Timeout { method: "POST".into(), url: "u".into(), after: None };
        for method in [Method::POST, Method::GET] {
            assert_eq!(verdict(&policy, &method, &not_sent), Verdict::Retry { unreachable: true });
            assert_eq!(
                verdict(&policy, &method, &api(429, "FREQUENCY_LIMITED")),
                Verdict::Retry { unreachable: false }
            );
            assert_eq!(verdict(&policy, &method, &api(400, "PARAM_ERROR")), Verdict::Stop);
            assert_eq!(verdict(&policy, &method, &api(404, "NOT_FOUND")), Verdict::Stop);
        }
        for maybe_processed in [api(500, "SYSTEM_ERROR"), api(502, ""), api(400, "SYSTEM_ERROR"), after, timeout] {
            assert_eq!(verdict(&policy, &Method::POST, &maybe_processed), Verdict::Stop, "{maybe_processed}");
            assert_eq!(verdict(&policy, &Method::GET, &maybe_processed), Verdict::Retry { unreachable: false });
            let writes = Retry::default().retry_writes(true);
            assert_eq!(verdict(&writes, &Method::POST, &maybe_processed), Verdict::Retry { unreachable: false });
        }
    }

    #[test]
    fn a_request_the_http_layer_cannot_make_is_never_retried() {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let header = reqwest::header::HeaderValue::from_static("x");
        let unmade = reqwest::Client::new().get("http://127.0.0.1:1/").header("bad name", header).send();
        let err = runtime.block_on(unmade).unwrap_err();
        assert!(err.is_builder(), "{err:?}");
        let err =
            Error::Transport { method: "GET".into(), url: "u".into(), reason: "r".into(), source: Some(err.into()) };
        let anything = Retry::default().retry_writes(true);
        assert_eq!(verdict(&anything, &Method::GET, &err), Verdict::Stop);
    }

    #[test]
    fn waits_grow_exponentially_within_their_cap_and_jitter() {
        let policy = Retry::default().backoff(Duration::from_millis(100), Duration::from_millis(700));
        for _ in 0..100 {
            let first = policy.delay(1);
            assert!((Duration::from_millis(50)..=Duration::from_millis(100)).contains(&first), "{first:?}");
            let third = policy.delay(3);
            assert!((Duration::from_millis(200)..=Duration::from_millis(400)).contains(&third), "{third:?}");
            let capped = policy.delay(40);
            assert!((Duration::from_millis(350)..=Duration::from_millis(700)).contains(&capped), "{capped:?}");
        }
    }

    #[test]
    fn failover_uris_are_origins() {
        assert!(failover_origin("https://api2.mch.weixin.qq.com/", false).is_ok());
        assert!(failover_origin("https://api2.mch.weixin.qq.com", false).is_ok());
        assert!(failover_origin("https://api2.mch.weixin.qq.com/hk/", false).is_err());
        assert!(failover_origin("http://api2.mch.weixin.qq.com/", false).is_err());
        assert!(failover_origin("http://127.0.0.1:9/", false).is_ok());
        let mut url = Url::parse("https://api.mch.weixin.qq.com/hk/v3/x?a=1").unwrap();
        fail_over(&mut url, &Url::parse("http://127.0.0.1:9/").unwrap());
        assert_eq!(url.as_str(), "http://127.0.0.1:9/hk/v3/x?a=1");
    }
}
