//! Fault injection: make the next requests, or the requests to one route, misbehave the way networks and
//! WeChat Pay sometimes do, so that client tests can check their handling.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A response header that carries the answer's signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SignatureHeader {
    /// `Wechatpay-Timestamp`.
    Timestamp,
    /// `Wechatpay-Nonce`.
    Nonce,
    /// `Wechatpay-Signature`.
    Signature,
    /// `Wechatpay-Serial`.
    Serial,
}

impl SignatureHeader {
    /// The header's name as WeChat Pay writes it.
    pub fn name(self) -> &'static str {
        match self {
            SignatureHeader::Timestamp => "Wechatpay-Timestamp",
            SignatureHeader::Nonce => "Wechatpay-Nonce",
            SignatureHeader::Signature => "Wechatpay-Signature",
            SignatureHeader::Serial => "Wechatpay-Serial",
        }
    }
}

/// One way of misbehaving. Each request takes at most one fault.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fault {
    /// Wait this long before answering normally.
    Delay(Duration),
    /// Answer this status (e.g. 500, 502, 503) with a signed `{"code":"SYSTEM_ERROR",...}` body, without
    /// processing the request (no state changes, the nonce is not used up).
    Status(u16),
    /// Read the request, then close the connection without answering; the request is not processed.
    DropConnection,
    /// Process the request (state changes happen), then close the connection without answering: the client
    /// cannot know whether its request took effect (the case idempotent retries are for).
    DropAfterProcessing,
    /// Answer normally but send only the first half of the body, then close the connection
    /// (`Content-Length` announces the whole body). A bill streamed without a `Content-Length` (gzip) loses
    /// its last piece instead.
    TruncatedBody,
    /// Answer normally but with a signature that does not verify (well-formed base64, one byte changed).
    TamperedSignature,
    /// Answer signed by the right key but with a `Wechatpay-Serial` no client knows.
    UnknownSerial,
    /// Answer with a valid signature over a `Wechatpay-Timestamp` ten minutes in the past.
    StaleTimestamp,
    /// Answer without this signature header.
    MissingHeader(SignatureHeader),
    /// Answer without any of the four signature headers.
    MissingSignatureHeaders,
    /// Answer with a `WECHATPAY/SIGNTEST/...` probe signature, as WeChat Pay sends on purpose to check that
    /// merchants verify signatures.
    SignTestProbe,
    /// Answer normally but with the body byte at this offset changed (bits flipped), after the answer was
    /// signed: a bill file that no longer matches its `hash_value`, an answer whose signature fails. Past the
    /// end of the body, nothing changes.
    CorruptByte(u64),
    /// Answer normally but send only the first this-many bytes of the body, then close the connection
    /// (`Content-Length`, when the answer has one, announces the whole body).
    CutAfter(u64),
}

#[derive(Debug)]
struct RouteRule {
    method: String,
    segments: Vec<String>,
    fault: Fault,
    remaining: Option<u64>,
}

impl RouteRule {
    fn matches(&self, method: &str, path: &str) -> bool {
        if self.method != "*" && !self.method.eq_ignore_ascii_case(method) {
            return false;
        }
        let mut parts = path.trim_start_matches('/').split('/');
        for (i, pattern) in self.segments.iter().enumerate() {
            if pattern == "*" && i + 1 == self.segments.len() {
                return true;
            }
            match parts.next() {
                Some(part) if pattern == part => {}
                Some(_) if pattern.starts_with('{') && pattern.ends_with('}') => {}
                _ => return false,
            }
        }
        parts.next().is_none()
    }
}

#[derive(Debug, Default)]
struct Plan {
    routes: Vec<RouteRule>,
    next: VecDeque<(Fault, u64)>,
}

/// Controls fault injection on a running [`Server`](crate::Server); cheap to clone, usable from any thread.
///
/// Route rules are checked first (in the order they were added), then the queue of faults for the next
/// requests. A fault for "the next N requests" counts every request the server receives.
///
/// ```no_run
/// # async fn demo() -> Result<(), wechatpay_mock::MockError> {
/// use std::time::Duration;
/// use wechatpay_mock::{Fault, Server};
/// let server = Server::start().await?;
/// server.faults().next_n(2, Fault::Status(503));          // the next two requests get 503
/// server.faults().on_route("GET", "/v3/certificates", Fault::TamperedSignature);
/// server.faults().on_route_n("POST", "/v3/pay/transactions/{kind}", 1, Fault::Delay(Duration::from_secs(2)));
/// server.faults().clear();
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Default)]
pub struct FaultHandle {
    plan: Arc<Mutex<Plan>>,
}

impl FaultHandle {
    fn plan(&self) -> std::sync::MutexGuard<'_, Plan> {
        self.plan.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The very next request gets `fault`.
    pub fn next(&self, fault: Fault) {
        self.next_n(1, fault);
    }

    /// The next `n` requests get `fault` (after any faults queued before).
    pub fn next_n(&self, n: u64, fault: Fault) {
        if n > 0 {
            self.plan().next.push_back((fault, n));
        }
    }

    /// Every request matching `method` (`"*"` for any) and `path` gets `fault` until [`FaultHandle::clear`].
    ///
    /// `path` is matched segment by segment against the request path (query excluded): a `{name}` segment
    /// matches any one segment and a final `*` matches the rest.
    pub fn on_route(&self, method: &str, path: &str, fault: Fault) {
        self.add_route(method, path, fault, None);
    }

    /// As [`FaultHandle::on_route`], for the next `n` matching requests only.
    pub fn on_route_n(&self, method: &str, path: &str, n: u64, fault: Fault) {
        if n > 0 {
            self.add_route(method, path, fault, Some(n));
        }
    }

    fn add_route(&self, method: &str, path: &str, fault: Fault, remaining: Option<u64>) {
        let segments =
            path.split('?').next().unwrap_or_default().trim_start_matches('/').split('/').map(str::to_owned).collect();
        self.plan().routes.push(RouteRule { method: method.to_owned(), segments, fault, remaining });
    }

    /// Removes every route rule and every queued fault.
    pub fn clear(&self) {
        let mut plan = self.plan();
        plan.routes.clear();
        plan.next.clear();
    }

    /// How many faults are still queued for the next requests (route rules not counted).
    pub fn queued(&self) -> u64 {
        self.plan().next.iter().map(|(_, n)| *n).sum()
    }

    /// Takes the fault for one request, if any.
    pub(crate) fn take(&self, method: &str, path: &str) -> Option<Fault> {
        let mut plan = self.plan();
        if let Some(idx) = plan.routes.iter().position(|r| r.matches(method, path)) {
            let rule = &mut plan.routes[idx];
            let fault = rule.fault.clone();
            if let Some(left) = rule.remaining.as_mut() {
                *left -= 1;
                if *left == 0 {
                    plan.routes.remove(idx);
                }
            }
            return Some(fault);
        }
        let (fault, left) = plan.next.front_mut()?;
        let fault = fault.clone();
        *left -= 1;
        if *left == 0 {
            plan.next.pop_front();
        }
        Some(fault)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_rules_come_first_then_the_queue() {
        let h = FaultHandle::default();
        h.next_n(2, Fault::Status(503));
        h.on_route_n("GET", "/v3/transfer/{id}/x", 1, Fault::DropConnection);
        h.on_route("*", "/v3/certificates", Fault::SignTestProbe);
        assert_eq!(h.take("GET", "/v3/transfer/abc/x"), Some(Fault::DropConnection));
        assert_eq!(h.take("GET", "/v3/transfer/abc/x"), Some(Fault::Status(503)));
        assert_eq!(h.take("POST", "/v3/certificates"), Some(Fault::SignTestProbe));
        assert_eq!(h.queued(), 1);
        assert_eq!(h.take("GET", "/v3/other"), Some(Fault::Status(503)));
        assert_eq!(h.take("GET", "/v3/other"), None);
        assert_eq!(h.take("GET", "/v3/certificates"), Some(Fault::SignTestProbe));
        h.on_route("get", "/v3/a/*", Fault::TruncatedBody);
        assert_eq!(h.take("GET", "/v3/a/b/c"), Some(Fault::TruncatedBody));
        assert_eq!(h.take("GET", "/v3/b"), None);
        h.clear();
        assert_eq!(h.take("GET", "/v3/certificates"), None);
    }
}
