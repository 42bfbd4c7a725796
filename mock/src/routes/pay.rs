//! Basic payments: native / JSAPI / APP / H5 prepay, query by `transaction_id` and by `out_trade_no`, close.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::{Ctx, Event, Reply, opt_str, req_int, req_str, req_value};
use crate::MockError;
use crate::util::{compact_datetime_cst, random_alnum, random_digits, rfc3339_cst, yyyymmdd_cst};

/// Which prepay endpoint created an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TradeType {
    Native,
    Jsapi,
    App,
    H5,
}

impl TradeType {
    pub(crate) fn wire(self) -> &'static str {
        match self {
            TradeType::Native => "NATIVE",
            TradeType::Jsapi => "JSAPI",
            TradeType::App => "APP",
            TradeType::H5 => "MWEB",
        }
    }
}

/// The state of an order (`trade_state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TradeState {
    /// `SUCCESS`: paid.
    Success,
    /// `REFUND`: (partly) refunded.
    Refund,
    /// `NOTPAY`: not paid yet (every new order).
    NotPay,
    /// `CLOSED`: closed by the merchant.
    Closed,
    /// `REVOKED`: revoked (code payments).
    Revoked,
    /// `USERPAYING`: the payer is paying (code payments).
    UserPaying,
    /// `PAYERROR`: payment failed.
    PayError,
}

impl TradeState {
    /// Every state, in the order of the enum.
    pub const ALL: [TradeState; 7] = [
        TradeState::Success,
        TradeState::Refund,
        TradeState::NotPay,
        TradeState::Closed,
        TradeState::Revoked,
        TradeState::UserPaying,
        TradeState::PayError,
    ];

    /// The wire name, e.g. `NOTPAY`.
    pub fn as_str(self) -> &'static str {
        match self {
            TradeState::Success => "SUCCESS",
            TradeState::Refund => "REFUND",
            TradeState::NotPay => "NOTPAY",
            TradeState::Closed => "CLOSED",
            TradeState::Revoked => "REVOKED",
            TradeState::UserPaying => "USERPAYING",
            TradeState::PayError => "PAYERROR",
        }
    }

    fn description(self) -> &'static str {
        match self {
            TradeState::Success => "支付成功",
            TradeState::Refund => "转入退款",
            TradeState::NotPay => "未支付",
            TradeState::Closed => "已关闭",
            TradeState::Revoked => "已撤销",
            TradeState::UserPaying => "用户支付中",
            TradeState::PayError => "支付失败",
        }
    }
}

impl fmt::Display for TradeState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for TradeState {
    type Err = MockError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        TradeState::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| MockError::InvalidState(format!("{s} is not a trade state")))
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Order {
    pub(crate) trade_type: TradeType,
    pub(crate) appid: String,
    pub(crate) mchid: String,
    pub(crate) description: String,
    pub(crate) out_trade_no: String,
    pub(crate) notify_url: String,
    pub(crate) total: i64,
    currency: String,
    pub(crate) payer_openid: Option<String>,
    attach: Option<String>,
    pub(crate) state: TradeState,
    pub(crate) transaction_id: Option<String>,
    pub(crate) success_time: Option<i64>,
    /// What the prepay answered (`prepay_id`, `code_url` or `h5_url`).
    prepay: Value,
    /// The request body, to tell a retry from a conflicting reuse of the `out_trade_no`.
    request: Value,
    pub(crate) refunded: i64,
    /// When the prepay created it (auto-pay counts from here).
    created_at: Instant,
}

impl Order {
    /// The order as the query endpoints and the `TRANSACTION.*` callbacks show it.
    pub(crate) fn resource(&self) -> Value {
        let paid = matches!(self.state, TradeState::Success | TradeState::Refund);
        let mut v = json!({
            "appid": self.appid,
            "mchid": self.mchid,
            "out_trade_no": self.out_trade_no,
            "trade_type": self.trade_type.wire(),
            "trade_state": self.state.as_str(),
            "trade_state_desc": self.state.description(),
            "amount": { "total": self.total, "currency": self.currency },
        });
        let Some(obj) = v.as_object_mut() else { return v };
        if let Some(id) = &self.transaction_id {
            obj.insert("transaction_id".into(), json!(id));
        }
        if let Some(attach) = &self.attach {
            obj.insert("attach".into(), json!(attach));
        }
        if let Some(openid) = &self.payer_openid {
            obj.insert("payer".into(), json!({ "openid": openid }));
        }
        if paid {
            obj.insert("bank_type".into(), json!("OTHERS"));
            if let Some(t) = self.success_time {
                obj.insert("success_time".into(), json!(rfc3339_cst(t)));
            }
            obj.insert(
                "amount".into(),
                json!({
                    "total": self.total,
                    "payer_total": self.total,
                    "currency": self.currency,
                    "payer_currency": self.currency,
                }),
            );
        }
        v
    }
}

/// All orders, keyed by `out_trade_no`.
#[derive(Debug, Default)]
pub(crate) struct Orders {
    by_out_trade_no: HashMap<String, Order>,
    by_transaction_id: HashMap<String, String>,
}

/// Marks a payable order paid: a new `transaction_id` (returned), `SUCCESS`, and its callback event.
fn settle(
    order: &mut Order,
    by_transaction_id: &mut HashMap<String, String>,
    now: i64,
    events: &mut Vec<Event>,
) -> String {
    let id = format!("4200{}{}{}", random_digits(6), yyyymmdd_cst(now), random_digits(10));
    order.state = TradeState::Success;
    order.transaction_id = Some(id.clone());
    order.success_time = Some(now);
    if order.payer_openid.is_none() {
        order.payer_openid = Some(format!("o{}", random_alnum(27)));
    }
    by_transaction_id.insert(id.clone(), order.out_trade_no.clone());
    events.push(Event::Transaction(order.out_trade_no.clone()));
    id
}

fn order_not_exist(what: &str) -> Reply {
    Reply::error(404, "ORDER_NOT_EXIST", format!("no order {what}"))
}

impl Orders {
    pub(crate) fn get(&self, out_trade_no: &str) -> Option<&Order> {
        self.by_out_trade_no.get(out_trade_no)
    }

    pub(crate) fn get_mut(&mut self, out_trade_no: &str) -> Option<&mut Order> {
        self.by_out_trade_no.get_mut(out_trade_no)
    }

    pub(crate) fn by_transaction_id(&self, transaction_id: &str) -> Option<&Order> {
        self.by_out_trade_no.get(self.by_transaction_id.get(transaction_id)?)
    }

    pub(crate) fn all(&self) -> impl Iterator<Item = &Order> {
        self.by_out_trade_no.values()
    }

    /// Test control: the payer pays a `NOTPAY` order. Returns the new `transaction_id`.
    pub(crate) fn pay(&mut self, out_trade_no: &str, now: i64, events: &mut Vec<Event>) -> Result<String, MockError> {
        let order = self
            .by_out_trade_no
            .get_mut(out_trade_no)
            .ok_or_else(|| MockError::NotFound(format!("order {out_trade_no}")))?;
        if !matches!(order.state, TradeState::NotPay | TradeState::UserPaying) {
            return Err(MockError::InvalidState(format!("order {out_trade_no} is {} and cannot be paid", order.state)));
        }
        Ok(settle(order, &mut self.by_transaction_id, now, events))
    }

    /// Auto-pay: the payer pays every `NOTPAY` order `delay` after its prepay.
    pub(crate) fn catch_up(&mut self, delay: Duration, now: Instant, now_secs: i64, events: &mut Vec<Event>) {
        for order in self.by_out_trade_no.values_mut() {
            if order.state == TradeState::NotPay && order.created_at + delay <= now {
                settle(order, &mut self.by_transaction_id, now_secs, events);
            }
        }
    }

    /// Test control: force a state.
    pub(crate) fn set_state(
        &mut self,
        out_trade_no: &str,
        state: TradeState,
        now: i64,
        events: &mut Vec<Event>,
    ) -> Result<(), MockError> {
        if state == TradeState::Success
            && self.by_out_trade_no.get(out_trade_no).is_some_and(|o| o.transaction_id.is_none())
        {
            return self.pay(out_trade_no, now, events).map(|_| ());
        }
        let order = self
            .by_out_trade_no
            .get_mut(out_trade_no)
            .ok_or_else(|| MockError::NotFound(format!("order {out_trade_no}")))?;
        order.state = state;
        Ok(())
    }

    pub(crate) fn prepay(&mut self, ctx: &Ctx<'_>, kind: TradeType) -> Result<Reply, Reply> {
        let body = ctx.body()?;
        let appid = req_str(body, "appid")?;
        let mchid = req_str(body, "mchid")?;
        let description = req_str(body, "description")?;
        let out_trade_no = req_str(body, "out_trade_no")?;
        let notify_url = req_str(body, "notify_url")?;
        let total = req_int(body, "amount.total")?;
        if total <= 0 {
            return Err(Reply::param_error("amount.total", "body", "amount.total must be a positive integer (fen)"));
        }
        let currency = opt_str(body, "amount.currency")?.unwrap_or_else(|| "CNY".to_owned());
        let payer_openid = match kind {
            TradeType::Jsapi => Some(req_str(body, "payer.openid")?),
            _ => opt_str(body, "payer.openid")?,
        };
        if kind == TradeType::H5 {
            req_value(body, "scene_info")?;
        }
        if mchid != ctx.keys.mchid {
            return Err(Reply::param_error(
                "mchid",
                "body",
                "mchid in the body is not the merchant that signed the request",
            ));
        }
        if !(notify_url.starts_with("https://") || notify_url.starts_with("http://")) {
            return Err(Reply::param_error("notify_url", "body", "notify_url must be an absolute http(s) URL"));
        }
        let request = Value::Object(body.clone());
        if let Some(existing) = self.by_out_trade_no.get(&out_trade_no) {
            return match existing.state {
                TradeState::Closed => Err(Reply::error(400, "ORDER_CLOSED", format!("order {out_trade_no} is closed"))),
                TradeState::NotPay if existing.request == request => Ok(Reply::ok(&existing.prepay)),
                TradeState::NotPay => Err(Reply::invalid_request(format!(
                    "out_trade_no {out_trade_no} was already used with different parameters"
                ))),
                _ => Err(Reply::invalid_request(format!("order {out_trade_no} is already paid"))),
            };
        }
        let prepay_id = format!("wx{}{}", compact_datetime_cst(ctx.now), random_alnum(20).to_ascii_lowercase());
        let prepay = match kind {
            TradeType::Native => json!({ "code_url": format!("weixin://wxpay/bizpayurl?pr={}", random_alnum(7)) }),
            TradeType::Jsapi | TradeType::App => json!({ "prepay_id": prepay_id }),
            TradeType::H5 => json!({
                "h5_url": format!("https://wx.tenpay.com/cgi-bin/mmpayweb-bin/checkmweb?prepay_id={prepay_id}&package={}", random_digits(10))
            }),
        };
        let order = Order {
            trade_type: kind,
            appid,
            mchid,
            description,
            out_trade_no: out_trade_no.clone(),
            notify_url,
            total,
            currency,
            payer_openid,
            attach: opt_str(body, "attach")?,
            state: TradeState::NotPay,
            transaction_id: None,
            success_time: None,
            prepay: prepay.clone(),
            request,
            refunded: 0,
            created_at: Instant::now(),
        };
        self.by_out_trade_no.insert(out_trade_no, order);
        Ok(Reply::ok(&prepay))
    }

    pub(crate) fn query(&self, ctx: &Ctx<'_>, by_id: bool) -> Result<Reply, Reply> {
        let mchid = ctx.required_query("mchid")?;
        if mchid != ctx.keys.mchid {
            return Err(Reply::param_error("mchid", "query", "mchid is not the merchant that signed the request"));
        }
        let order = if by_id {
            let id = ctx.param("transaction_id");
            self.by_transaction_id(id).ok_or_else(|| order_not_exist(id))?
        } else {
            let no = ctx.param("out_trade_no");
            self.by_out_trade_no.get(no).ok_or_else(|| order_not_exist(no))?
        };
        Ok(Reply::ok(&order.resource()))
    }

    pub(crate) fn close(&mut self, ctx: &Ctx<'_>) -> Result<Reply, Reply> {
        let body = ctx.body()?;
        let mchid = req_str(body, "mchid")?;
        if mchid != ctx.keys.mchid {
            return Err(Reply::param_error("mchid", "body", "mchid is not the merchant that signed the request"));
        }
        let no = ctx.param("out_trade_no");
        let order = self.by_out_trade_no.get_mut(no).ok_or_else(|| order_not_exist(no))?;
        match order.state {
            TradeState::NotPay | TradeState::Closed | TradeState::PayError => {
                order.state = TradeState::Closed;
                Ok(Reply::no_content())
            }
            _ => Err(Reply::error(400, "ORDERPAID", format!("order {no} is {} and cannot be closed", order.state))),
        }
    }
}
