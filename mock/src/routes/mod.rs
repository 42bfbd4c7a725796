//! The stateful endpoints over HTTP: the dispatch from (method, path) to them, what they may look at ([`Ctx`]),
//! and the helpers that read request bodies. The objects they change live in [`crate::state`].

pub(crate) mod bills;
pub(crate) mod certificates;
pub(crate) mod fallback;
pub(crate) mod media;
pub(crate) mod pay;
pub(crate) mod refunds;
pub(crate) mod transfers;

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value};

use crate::keys::{Keys, PlatformEntry, WechatKey};
use crate::multipart::Part;
use crate::reply::{Reply, header};
use crate::state::State;
use crate::state::bills::BillKind;
use crate::state::orders::TradeType;
use crate::state::transfers::TransferKind;
use crate::util::percent_decode;

/// Everything a handler may look at.
pub(crate) struct Ctx<'a> {
    pub(crate) query: Vec<(String, String)>,
    /// Lower-case names.
    pub(crate) headers: &'a [(String, String)],
    pub(crate) json: Option<Value>,
    pub(crate) parts: Option<Vec<Part>>,
    /// Decoded `{placeholder}` values of the matched route.
    pub(crate) params: Vec<(&'static str, String)>,
    /// The Unix time answers show (the simulator's clock).
    pub(crate) now: i64,
    /// The simulator clock's reading: what auto-pay and auto-advance count from.
    pub(crate) at: Duration,
    pub(crate) keys: &'a Keys,
    /// The platform certificates, in the order added (none when the merchant is in public-key-only mode).
    pub(crate) platform_certificates: Vec<Arc<PlatformEntry>>,
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
    Prepay(TradeType),
    QueryById,
    QueryByOutTradeNo,
    Close,
    RefundCreate,
    RefundQuery,
    Bill(BillKind),
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
    ("POST", "/v3/pay/transactions/native", Endpoint::Prepay(TradeType::Native)),
    ("POST", "/v3/pay/transactions/jsapi", Endpoint::Prepay(TradeType::Jsapi)),
    ("POST", "/v3/pay/transactions/app", Endpoint::Prepay(TradeType::App)),
    ("POST", "/v3/pay/transactions/h5", Endpoint::Prepay(TradeType::H5)),
    ("GET", "/v3/pay/transactions/id/{transaction_id}", Endpoint::QueryById),
    ("GET", "/v3/pay/transactions/out-trade-no/{out_trade_no}", Endpoint::QueryByOutTradeNo),
    ("POST", "/v3/pay/transactions/out-trade-no/{out_trade_no}/close", Endpoint::Close),
    ("POST", "/v3/refund/domestic/refunds", Endpoint::RefundCreate),
    ("GET", "/v3/refund/domestic/refunds/{out_refund_no}", Endpoint::RefundQuery),
    ("GET", "/v3/bill/tradebill", Endpoint::Bill(BillKind::Trade)),
    ("GET", "/v3/bill/fundflowbill", Endpoint::Bill(BillKind::Fundflow)),
    ("GET", "/v3/bill/sub-merchant-fundflowbill", Endpoint::Bill(BillKind::SubMerchantFundflow)),
    ("GET", "/v3/ecommerce/bill/fundflowbill", Endpoint::Bill(BillKind::EcommerceFundflow)),
    ("GET", "/v3/funds-to-oversea/bill-download-url", Endpoint::Bill(BillKind::FundsToOversea)),
    ("GET", "/v3/global/profit-sharing/bill-download-url", Endpoint::Bill(BillKind::GlobalProfitSharing)),
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

/// Answers a request to a stateful endpoint.
pub(crate) fn dispatch(state: &mut State, endpoint: Endpoint, ctx: &Ctx<'_>) -> Reply {
    let result = match endpoint {
        Endpoint::Certificates => Ok(certificates::list(ctx)),
        Endpoint::QqCreate => transfers::create(&mut state.transfers, ctx, TransferKind::QqWallet),
        Endpoint::QqQuery => transfers::query_qq(&state.transfers, ctx),
        Endpoint::QqCancel => transfers::cancel(&mut state.transfers, ctx, TransferKind::QqWallet),
        Endpoint::MchCreate => transfers::create(&mut state.transfers, ctx, TransferKind::MchTransfer),
        Endpoint::MchQueryByOutBillNo => transfers::query_mch(&state.transfers, ctx, false),
        Endpoint::MchQueryByBillNo => transfers::query_mch(&state.transfers, ctx, true),
        Endpoint::MchCancel => transfers::cancel(&mut state.transfers, ctx, TransferKind::MchTransfer),
        Endpoint::Prepay(kind) => pay::prepay(&mut state.orders, ctx, kind),
        Endpoint::QueryById => pay::query(&state.orders, ctx, true),
        Endpoint::QueryByOutTradeNo => pay::query(&state.orders, ctx, false),
        Endpoint::Close => pay::close(&mut state.orders, ctx),
        Endpoint::RefundCreate => refunds::create(&mut state.refunds, &mut state.orders, ctx),
        Endpoint::RefundQuery => refunds::query(&state.refunds, ctx),
        Endpoint::Bill(kind) => bills::apply(&mut state.bills, &state.orders, ctx, kind),
        Endpoint::BillDownload => bills::download(&state.bills, ctx),
        Endpoint::Upload(kind) => {
            state.uploads += 1;
            media::upload(ctx, kind, state.uploads)
        }
    };
    result.unwrap_or_else(|reply| reply)
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
            Lookup::Found(Endpoint::Prepay(TradeType::Jsapi), _)
        ));
    }
}
