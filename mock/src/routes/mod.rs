//! Stateful endpoints and the dispatch from (method, path) to them.

pub(crate) mod bills;
pub(crate) mod certificates;
pub(crate) mod fallback;
pub(crate) mod media;
pub(crate) mod pay;
pub(crate) mod refunds;
pub(crate) mod transfers;

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};

use crate::engine::PlatformEntry;
use crate::keys::{Keys, WechatKey};
use crate::multipart::Part;
use crate::util::percent_decode;

/// What a handler answers.
#[derive(Debug, Clone)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) body: Vec<u8>,
    pub(crate) content_type: Option<&'static str>,
    /// WeChat Pay signs almost every answer; bill files and image downloads are the exceptions.
    pub(crate) signing: Signing,
    /// Headers besides the standard ones.
    pub(crate) extra_headers: Vec<(&'static str, String)>,
    /// A body produced while it is sent (bill files), instead of `body`.
    pub(crate) stream: Option<Streamed>,
}

/// The chunks of a body produced while it is sent.
pub(crate) type Chunks = Box<dyn Iterator<Item = Vec<u8>> + Send>;

/// A body produced piece by piece when it is sent, so that a bill of gigabytes is never held in memory;
/// its length is announced as `Content-Length` when known (otherwise the answer is chunked). One pointer
/// wide, so that every `Result<Reply, Reply>` stays small.
#[derive(Clone)]
pub(crate) struct Streamed(Arc<StreamedBody>);

struct StreamedBody {
    len: Option<u64>,
    open: Box<dyn Fn() -> Chunks + Send + Sync>,
}

impl Streamed {
    pub(crate) fn new(len: Option<u64>, open: impl Fn() -> Chunks + Send + Sync + 'static) -> Self {
        Streamed(Arc::new(StreamedBody { len, open: Box::new(open) }))
    }

    /// The body's length, when known before it is produced.
    pub(crate) fn len(&self) -> Option<u64> {
        self.0.len
    }

    /// The body's chunks, from its start.
    pub(crate) fn chunks(&self) -> Chunks {
        (self.0.open)()
    }
}

impl std::fmt::Debug for Streamed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Streamed").field("len", &self.0.len).finish_non_exhaustive()
    }
}

/// What the answer's signature covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Signing {
    /// The body bytes (almost every answer).
    Body,
    /// Other bytes than the body (overseas statements: `{"sha1":"..."}`).
    Over(Vec<u8>),
    /// No signature headers at all (bill files, image downloads).
    Unsigned,
}

impl Reply {
    pub(crate) fn json(status: u16, value: &Value) -> Reply {
        Reply {
            status,
            body: serde_json::to_vec(value).unwrap_or_default(),
            content_type: Some("application/json; charset=utf-8"),
            signing: Signing::Body,
            extra_headers: Vec::new(),
            stream: None,
        }
    }

    pub(crate) fn ok(value: &Value) -> Reply {
        Reply::json(200, value)
    }

    pub(crate) fn no_content() -> Reply {
        Reply {
            status: 204,
            body: Vec::new(),
            content_type: None,
            signing: Signing::Body,
            extra_headers: Vec::new(),
            stream: None,
        }
    }

    /// A WeChat-style error: `{"code":..., "message":...}`.
    pub(crate) fn error(status: u16, code: &str, message: impl Into<String>) -> Reply {
        Reply::json(status, &json!({ "code": code, "message": message.into() }))
    }

    /// 400 `PARAM_ERROR` naming the field.
    pub(crate) fn param_error(field: &str, location: &str, message: impl Into<String>) -> Reply {
        Reply::json(
            400,
            &json!({
                "code": "PARAM_ERROR",
                "message": message.into(),
                "detail": { "field": field, "location": location },
            }),
        )
    }

    pub(crate) fn missing(field: &str, location: &str) -> Reply {
        Reply::param_error(field, location, format!("the required field {field} is missing"))
    }

    pub(crate) fn invalid_request(message: impl Into<String>) -> Reply {
        Reply::error(400, "INVALID_REQUEST", message)
    }
}

/// Everything a handler may look at.
pub(crate) struct Ctx<'a> {
    pub(crate) query: Vec<(String, String)>,
    /// Lower-case names.
    pub(crate) headers: &'a [(String, String)],
    pub(crate) json: Option<Value>,
    pub(crate) parts: Option<Vec<Part>>,
    /// Decoded `{placeholder}` values of the matched route.
    pub(crate) params: Vec<(&'static str, String)>,
    pub(crate) now: i64,
    pub(crate) keys: &'a Keys,
    /// The platform certificates, in the order added (none when the merchant is in public-key-only mode).
    pub(crate) platform_certificates: Vec<std::sync::Arc<PlatformEntry>>,
    pub(crate) base_uri: &'a str,
}

impl Ctx<'_> {
    pub(crate) fn param(&self, name: &str) -> &str {
        self.params.iter().find(|(k, _)| *k == name).map(|(_, v)| v.as_str()).unwrap_or_default()
    }

    pub(crate) fn query(&self, name: &str) -> Option<&str> {
        self.query.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        header(self.headers, name)
    }

    /// The JSON object body, or 400 when there is none.
    pub(crate) fn body(&self) -> Result<&Map<String, Value>, Reply> {
        match &self.json {
            Some(Value::Object(map)) => Ok(map),
            Some(_) => Err(Reply::param_error("body", "body", "the request body must be a JSON object")),
            None => Err(Reply::param_error("body", "body", "this endpoint needs a JSON request body")),
        }
    }

    /// A required query parameter.
    pub(crate) fn required_query(&self, name: &str) -> Result<&str, Reply> {
        match self.query(name) {
            Some(v) if !v.is_empty() => Ok(v),
            _ => Err(Reply::missing(name, "query")),
        }
    }

    /// Decrypts a sensitive (OAEP) field with the key `Wechatpay-Serial` names.
    pub(crate) fn decrypt_sensitive(&self, field: &str, ciphertext: &str) -> Result<String, Reply> {
        let Some(serial) = self.header("wechatpay-serial") else {
            return Err(Reply::param_error(
                "Wechatpay-Serial",
                "header",
                format!("{field} is encrypted: the Wechatpay-Serial header must name the key used"),
            ));
        };
        let platform = self.platform_certificates.iter().find(|e| e.platform.serial.eq_ignore_ascii_case(serial));
        let key: &WechatKey =
            platform.map(|e| &e.key).or_else(|| self.keys.public_key_named(serial)).ok_or_else(|| {
                Reply::param_error(
                    "Wechatpay-Serial",
                    "header",
                    format!("Wechatpay-Serial {serial} names no platform certificate or public key of this merchant"),
                )
            })?;
        key.decrypt_field(ciphertext).ok_or_else(|| {
            Reply::param_error(
                field,
                "body",
                format!("{field} could not be decrypted with the key {serial} (RSAES-OAEP SHA-1, base64)"),
            )
        })
    }
}

/// A header value by case-insensitive name.
pub(crate) fn header<'h>(headers: &'h [(String, String)], name: &str) -> Option<&'h str> {
    headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
}

/// A required string at `path` (dotted) in a JSON object.
pub(crate) fn req_str(body: &Map<String, Value>, path: &str) -> Result<String, Reply> {
    match lookup(body, path) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
        Some(Value::String(_)) | None | Some(Value::Null) => Err(Reply::missing(path, "body")),
        Some(_) => Err(Reply::param_error(path, "body", format!("{path} must be a string"))),
    }
}

/// An optional string at `path`.
pub(crate) fn opt_str(body: &Map<String, Value>, path: &str) -> Result<Option<String>, Reply> {
    match lookup(body, path) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(Reply::param_error(path, "body", format!("{path} must be a string"))),
    }
}

/// A required integer at `path`.
pub(crate) fn req_int(body: &Map<String, Value>, path: &str) -> Result<i64, Reply> {
    match lookup(body, path) {
        None | Some(Value::Null) => Err(Reply::missing(path, "body")),
        Some(v) => v.as_i64().ok_or_else(|| Reply::param_error(path, "body", format!("{path} must be an integer"))),
    }
}

/// A required value of any JSON type at `path`.
pub(crate) fn req_value<'b>(body: &'b Map<String, Value>, path: &str) -> Result<&'b Value, Reply> {
    match lookup(body, path) {
        None | Some(Value::Null) => Err(Reply::missing(path, "body")),
        Some(v) => Ok(v),
    }
}

fn lookup<'b>(body: &'b Map<String, Value>, path: &str) -> Option<&'b Value> {
    let mut parts = path.split('.');
    let mut cur = body.get(parts.next()?)?;
    for p in parts {
        cur = cur.as_object()?.get(p)?;
    }
    Some(cur)
}

/// The stateful endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Endpoint {
    Certificates,
    QqCreate,
    QqQuery,
    QqCancel,
    MchCreate,
    MchQueryByOutBillNo,
    MchQueryByBillNo,
    MchCancel,
    Prepay(pay::TradeType),
    QueryById,
    QueryByOutTradeNo,
    Close,
    RefundCreate,
    RefundQuery,
    Bill(bills::BillKind),
    BillDownload,
    Upload(media::UploadKind),
}

const QQ: &str = "/v3/fund-app/mch-transfer/transfer-to-qq-wallet-bills";

/// Method, path template, endpoint.
const ROUTES: &[(&str, &str, Endpoint)] = &[
    ("GET", "/v3/certificates", Endpoint::Certificates),
    ("POST", QQ, Endpoint::QqCreate),
    ("GET", "/v3/fund-app/mch-transfer/transfer-to-qq-wallet-bills/{out_bill_no}", Endpoint::QqQuery),
    ("POST", "/v3/fund-app/mch-transfer/transfer-to-qq-wallet-bills/{out_bill_no}/cancel", Endpoint::QqCancel),
    ("POST", "/v3/fund-app/mch-transfer/transfer-bills", Endpoint::MchCreate),
    ("GET", "/v3/fund-app/mch-transfer/transfer-bills/out-bill-no/{out_bill_no}", Endpoint::MchQueryByOutBillNo),
    ("GET", "/v3/fund-app/mch-transfer/transfer-bills/transfer-bill-no/{transfer_bill_no}", Endpoint::MchQueryByBillNo),
    ("POST", "/v3/fund-app/mch-transfer/transfer-bills/out-bill-no/{out_bill_no}/cancel", Endpoint::MchCancel),
    ("POST", "/v3/pay/transactions/native", Endpoint::Prepay(pay::TradeType::Native)),
    ("POST", "/v3/pay/transactions/jsapi", Endpoint::Prepay(pay::TradeType::Jsapi)),
    ("POST", "/v3/pay/transactions/app", Endpoint::Prepay(pay::TradeType::App)),
    ("POST", "/v3/pay/transactions/h5", Endpoint::Prepay(pay::TradeType::H5)),
    ("GET", "/v3/pay/transactions/id/{transaction_id}", Endpoint::QueryById),
    ("GET", "/v3/pay/transactions/out-trade-no/{out_trade_no}", Endpoint::QueryByOutTradeNo),
    ("POST", "/v3/pay/transactions/out-trade-no/{out_trade_no}/close", Endpoint::Close),
    ("POST", "/v3/refund/domestic/refunds", Endpoint::RefundCreate),
    ("GET", "/v3/refund/domestic/refunds/{out_refund_no}", Endpoint::RefundQuery),
    ("GET", "/v3/bill/tradebill", Endpoint::Bill(bills::BillKind::Trade)),
    ("GET", "/v3/bill/fundflowbill", Endpoint::Bill(bills::BillKind::Fundflow)),
    ("GET", "/v3/bill/sub-merchant-fundflowbill", Endpoint::Bill(bills::BillKind::SubMerchantFundflow)),
    ("GET", "/v3/ecommerce/bill/fundflowbill", Endpoint::Bill(bills::BillKind::EcommerceFundflow)),
    ("GET", "/v3/funds-to-oversea/bill-download-url", Endpoint::Bill(bills::BillKind::FundsToOversea)),
    ("GET", "/v3/global/profit-sharing/bill-download-url", Endpoint::Bill(bills::BillKind::GlobalProfitSharing)),
    ("GET", "/v3/billdownload/file", Endpoint::BillDownload),
    // Where the encrypted and overseas bills are downloaded from (not in the catalog: only in answers).
    ("GET", "/v3/bill/downloadurl", Endpoint::BillDownload),
    ("POST", "/v3/merchant/media/upload", Endpoint::Upload(media::UploadKind::MediaId)),
    ("POST", "/v3/merchant/media/video_upload", Endpoint::Upload(media::UploadKind::MediaId)),
    ("POST", "/v3/merchant-service/images/upload", Endpoint::Upload(media::UploadKind::ImageId)),
    ("POST", "/v3/marketing/favor/media/image-upload", Endpoint::Upload(media::UploadKind::MediaUrl)),
];

/// Matches `path` against a template; returns the decoded placeholder values.
fn match_template(template: &'static str, path: &str) -> Option<Vec<(&'static str, String)>> {
    let mut params = Vec::new();
    let mut t = template.split('/');
    let mut p = path.split('/');
    loop {
        match (t.next(), p.next()) {
            (None, None) => return Some(params),
            (Some(ts), Some(ps)) => {
                if let Some(name) = ts.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                    if ps.is_empty() {
                        return None;
                    }
                    params.push((name, percent_decode(ps)));
                } else if ts != ps {
                    return None;
                }
            }
            _ => return None,
        }
    }
}

/// The outcome of looking a request up in the stateful route table.
pub(crate) enum Lookup {
    Found(Endpoint, Vec<(&'static str, String)>),
    /// The path is a stateful one but not for this method.
    WrongMethod,
    None,
}

pub(crate) fn lookup_route(method: &str, path: &str) -> Lookup {
    let mut wrong_method = false;
    for (m, template, endpoint) in ROUTES {
        if let Some(params) = match_template(template, path) {
            if m.eq_ignore_ascii_case(method) {
                return Lookup::Found(*endpoint, params);
            }
            wrong_method = true;
        }
    }
    if wrong_method { Lookup::WrongMethod } else { Lookup::None }
}

/// Something the merchant should be told about by a callback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Event {
    Transaction(String),
    Refund(String),
    Transfer(String),
}

/// All in-memory state.
#[derive(Debug, Default)]
pub(crate) struct State {
    pub(crate) transfers: transfers::Transfers,
    pub(crate) orders: pay::Orders,
    pub(crate) refunds: refunds::Refunds,
    pub(crate) bills: bills::Bills,
    pub(crate) uploads: u64,
    /// APIv2 orders, refunds and red packets.
    pub(crate) apiv2: crate::v2::Ledger,
    /// State changes that have a `notify_url`, waiting to be turned into callbacks.
    pub(crate) events: Vec<Event>,
}

impl State {
    /// Applies the time-based advance of every pending object (lazily, on each access): orders paid
    /// `auto_pay` after their prepay, transfers and refunds one state every `auto_advance`.
    pub(crate) fn catch_up(
        &mut self,
        auto_advance: Option<Duration>,
        auto_pay: Option<Duration>,
        now: Instant,
        now_secs: i64,
    ) {
        if let Some(delay) = auto_pay {
            self.orders.catch_up(delay, now, now_secs, &mut self.events);
        }
        if let Some(step) = auto_advance {
            self.transfers.catch_up(step, now, now_secs, &mut self.events);
            self.refunds.catch_up(step, now, now_secs, &mut self.events);
        }
    }

    pub(crate) fn dispatch(&mut self, endpoint: Endpoint, ctx: &Ctx<'_>) -> Reply {
        let result = match endpoint {
            Endpoint::Certificates => Ok(certificates::list(ctx)),
            Endpoint::QqCreate => self.transfers.create(ctx, transfers::TransferKind::QqWallet),
            Endpoint::QqQuery => self.transfers.query_qq(ctx),
            Endpoint::QqCancel => self.transfers.cancel(ctx, transfers::TransferKind::QqWallet),
            Endpoint::MchCreate => self.transfers.create(ctx, transfers::TransferKind::MchTransfer),
            Endpoint::MchQueryByOutBillNo => self.transfers.query_mch(ctx, false),
            Endpoint::MchQueryByBillNo => self.transfers.query_mch(ctx, true),
            Endpoint::MchCancel => self.transfers.cancel(ctx, transfers::TransferKind::MchTransfer),
            Endpoint::Prepay(kind) => self.orders.prepay(ctx, kind),
            Endpoint::QueryById => self.orders.query(ctx, true),
            Endpoint::QueryByOutTradeNo => self.orders.query(ctx, false),
            Endpoint::Close => self.orders.close(ctx),
            Endpoint::RefundCreate => self.refunds.create(ctx, &mut self.orders),
            Endpoint::RefundQuery => self.refunds.query(ctx),
            Endpoint::Bill(kind) => self.bills.apply(ctx, kind, &self.orders),
            Endpoint::BillDownload => self.bills.download(ctx),
            Endpoint::Upload(kind) => {
                self.uploads += 1;
                media::upload(ctx, kind, self.uploads)
            }
        };
        result.unwrap_or_else(|reply| reply)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_match_whole_segments() {
        let params = match_template("/v3/a/{id}/cancel", "/v3/a/x%2Fy/cancel");
        assert_eq!(params, Some(vec![("id", "x/y".to_owned())]));
        assert_eq!(match_template("/v3/a/{id}/cancel", "/v3/a//cancel"), None);
        assert_eq!(match_template("/v3/a/{id}", "/v3/a/b/c"), None);
        assert!(matches!(lookup_route("DELETE", "/v3/certificates"), Lookup::WrongMethod));
        assert!(matches!(lookup_route("GET", "/v3/nothing"), Lookup::None));
        assert!(matches!(
            lookup_route("POST", "/v3/pay/transactions/jsapi"),
            Lookup::Found(Endpoint::Prepay(pay::TradeType::Jsapi), _)
        ));
    }
}
