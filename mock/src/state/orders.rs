//! Orders of the basic payments (native / JSAPI / APP / H5): their states, how they are paid (by a test, or
//! by auto-pay once their delay has passed), and how the query endpoints and callbacks show them.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde_json::{Value, json};

use super::{Event, Moment};
use crate::error::MockError;
use crate::util::{random_alnum, random_digits, rfc3339_cst, yyyymmdd_cst};

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
    pub(crate) currency: String,
    pub(crate) payer_openid: Option<String>,
    pub(crate) attach: Option<String>,
    pub(crate) state: TradeState,
    pub(crate) transaction_id: Option<String>,
    pub(crate) success_time: Option<i64>,
    /// What the prepay answered (`prepay_id`, `code_url` or `h5_url`).
    pub(crate) prepay: Value,
    /// The request body, to tell a retry from a conflicting reuse of the `out_trade_no`.
    pub(crate) request: Value,
    pub(crate) refunded: i64,
    /// When the prepay created it, on the simulator's clock (auto-pay counts from here).
    pub(crate) created_at: Duration,
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

    /// Records a new order (the prepay endpoints check it first).
    pub(crate) fn insert(&mut self, order: Order) {
        self.by_out_trade_no.insert(order.out_trade_no.clone(), order);
    }

    /// Test control: the payer pays a `NOTPAY` order. Returns the new `transaction_id`.
    pub(crate) fn pay(
        &mut self,
        out_trade_no: &str,
        now: Moment,
        events: &mut Vec<Event>,
    ) -> Result<String, MockError> {
        let order = self
            .by_out_trade_no
            .get_mut(out_trade_no)
            .ok_or_else(|| MockError::NotFound(format!("order {out_trade_no}")))?;
        if !matches!(order.state, TradeState::NotPay | TradeState::UserPaying) {
            return Err(MockError::InvalidState(format!("order {out_trade_no} is {} and cannot be paid", order.state)));
        }
        Ok(settle(order, &mut self.by_transaction_id, now.secs, events))
    }

    /// Auto-pay: the payer pays every `NOTPAY` order `delay` after its prepay.
    pub(crate) fn catch_up(&mut self, delay: Duration, now: Moment, events: &mut Vec<Event>) {
        for order in self.by_out_trade_no.values_mut() {
            if order.state == TradeState::NotPay && order.created_at.saturating_add(delay) <= now.at {
                settle(order, &mut self.by_transaction_id, now.secs, events);
            }
        }
    }

    /// When auto-pay pays the next order, on the simulator's clock.
    pub(crate) fn next_due(&self, delay: Duration) -> Option<Duration> {
        self.by_out_trade_no
            .values()
            .filter(|order| order.state == TradeState::NotPay)
            .map(|order| order.created_at.saturating_add(delay))
            .min()
    }

    /// Test control: force a state.
    pub(crate) fn set_state(
        &mut self,
        out_trade_no: &str,
        state: TradeState,
        now: Moment,
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
}
