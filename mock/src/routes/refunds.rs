//! Domestic refunds: create (idempotent by `out_refund_no`) and query.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::pay::{Orders, TradeState};
use super::{Ctx, Event, Reply, opt_str, req_int, req_str};
use crate::MockError;
use crate::util::{random_digits, rfc3339_cst, yyyymmdd_cst};

/// The state of a refund (`status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RefundStatus {
    /// `PROCESSING`: every new refund.
    Processing,
    /// `SUCCESS`: done.
    Success,
    /// `CLOSED`: closed.
    Closed,
    /// `ABNORMAL`: the payee's account is abnormal.
    Abnormal,
}

impl RefundStatus {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            RefundStatus::Processing => "PROCESSING",
            RefundStatus::Success => "SUCCESS",
            RefundStatus::Closed => "CLOSED",
            RefundStatus::Abnormal => "ABNORMAL",
        }
    }
}

impl fmt::Display for RefundStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RefundStatus {
    type Err = MockError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [RefundStatus::Processing, RefundStatus::Success, RefundStatus::Closed, RefundStatus::Abnormal]
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| MockError::InvalidState(format!("{s} is not a refund status")))
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Refund {
    pub(crate) refund_id: String,
    pub(crate) out_refund_no: String,
    pub(crate) transaction_id: String,
    pub(crate) out_trade_no: String,
    pub(crate) mchid: String,
    pub(crate) refund: i64,
    pub(crate) total: i64,
    currency: String,
    pub(crate) status: RefundStatus,
    create_time: i64,
    success_time: Option<i64>,
    pub(crate) notify_url: Option<String>,
    changed_at: Instant,
}

impl Refund {
    fn set_status(&mut self, status: RefundStatus, now: Instant, now_secs: i64, events: &mut Vec<Event>) {
        if self.status == status {
            return;
        }
        self.status = status;
        self.changed_at = now;
        if status == RefundStatus::Success {
            self.success_time = Some(now_secs);
        }
        if status != RefundStatus::Processing && self.notify_url.is_some() {
            events.push(Event::Refund(self.out_refund_no.clone()));
        }
    }

    fn answer(&self) -> Value {
        let mut v = json!({
            "refund_id": self.refund_id,
            "out_refund_no": self.out_refund_no,
            "transaction_id": self.transaction_id,
            "out_trade_no": self.out_trade_no,
            "channel": "ORIGINAL",
            "user_received_account": "支付用户零钱",
            "create_time": rfc3339_cst(self.create_time),
            "status": self.status.as_str(),
            "funds_account": "AVAILABLE",
            "amount": {
                "total": self.total,
                "refund": self.refund,
                "payer_total": self.total,
                "payer_refund": self.refund,
                "settlement_refund": self.refund,
                "settlement_total": self.total,
                "discount_refund": 0,
                "currency": self.currency,
            },
            "promotion_detail": [],
        });
        if let (Some(t), Some(obj)) = (self.success_time, v.as_object_mut()) {
            obj.insert("success_time".into(), json!(rfc3339_cst(t)));
        }
        v
    }

    /// The plaintext resource of a `REFUND.*` callback.
    pub(crate) fn notification_resource(&self) -> Value {
        let mut v = json!({
            "mchid": self.mchid,
            "out_trade_no": self.out_trade_no,
            "transaction_id": self.transaction_id,
            "out_refund_no": self.out_refund_no,
            "refund_id": self.refund_id,
            "refund_status": self.status.as_str(),
            "user_received_account": "支付用户零钱",
            "amount": {
                "total": self.total,
                "refund": self.refund,
                "payer_total": self.total,
                "payer_refund": self.refund,
            },
        });
        if let (Some(t), Some(obj)) = (self.success_time, v.as_object_mut()) {
            obj.insert("success_time".into(), json!(rfc3339_cst(t)));
        }
        v
    }
}

/// All refunds, keyed by `out_refund_no`.
#[derive(Debug, Default)]
pub(crate) struct Refunds {
    by_out_refund_no: HashMap<String, Refund>,
}

impl Refunds {
    pub(crate) fn get(&self, out_refund_no: &str) -> Option<&Refund> {
        self.by_out_refund_no.get(out_refund_no)
    }

    pub(crate) fn catch_up(&mut self, step: Duration, now: Instant, now_secs: i64, events: &mut Vec<Event>) {
        for refund in self.by_out_refund_no.values_mut() {
            let due = refund.changed_at + step;
            if refund.status == RefundStatus::Processing && due <= now {
                refund.set_status(RefundStatus::Success, due, now_secs, events);
            }
        }
    }

    /// Test control: put a refund in any status.
    pub(crate) fn set_status(
        &mut self,
        out_refund_no: &str,
        status: RefundStatus,
        now_secs: i64,
        events: &mut Vec<Event>,
    ) -> Result<(), MockError> {
        let refund = self
            .by_out_refund_no
            .get_mut(out_refund_no)
            .ok_or_else(|| MockError::NotFound(format!("refund {out_refund_no}")))?;
        refund.set_status(status, Instant::now(), now_secs, events);
        Ok(())
    }

    pub(crate) fn create(&mut self, ctx: &Ctx<'_>, orders: &mut Orders) -> Result<Reply, Reply> {
        let body = ctx.body()?;
        let out_refund_no = req_str(body, "out_refund_no")?;
        let refund = req_int(body, "amount.refund")?;
        let total = req_int(body, "amount.total")?;
        let currency = req_str(body, "amount.currency")?;
        let transaction_id = opt_str(body, "transaction_id")?;
        let out_trade_no = opt_str(body, "out_trade_no")?;
        let order = match (&transaction_id, &out_trade_no) {
            (Some(id), _) => orders.by_transaction_id(id).map(|o| o.out_trade_no.clone()).ok_or_else(|| {
                Reply::error(404, "RESOURCE_NOT_EXISTS", format!("no order with transaction_id {id}"))
            })?,
            (None, Some(no)) => orders
                .get(no)
                .map(|o| o.out_trade_no.clone())
                .ok_or_else(|| Reply::error(404, "RESOURCE_NOT_EXISTS", format!("no order {no}")))?,
            (None, None) => {
                return Err(Reply::param_error(
                    "transaction_id",
                    "body",
                    "one of transaction_id and out_trade_no is required",
                ));
            }
        };
        if let Some(existing) = self.by_out_refund_no.get(&out_refund_no) {
            if existing.out_trade_no != order || existing.refund != refund {
                return Err(Reply::invalid_request(format!(
                    "out_refund_no {out_refund_no} was already used for another order or amount"
                )));
            }
            return Ok(Reply::ok(&existing.answer()));
        }
        let Some(order) = orders.get_mut(&order) else {
            return Err(Reply::error(404, "RESOURCE_NOT_EXISTS", "the order disappeared"));
        };
        if !matches!(order.state, TradeState::Success | TradeState::Refund) {
            return Err(Reply::invalid_request(format!(
                "order {} is {} and cannot be refunded",
                order.out_trade_no, order.state
            )));
        }
        if total != order.total {
            return Err(Reply::param_error(
                "amount.total",
                "body",
                format!("amount.total {total} is not the order total {}", order.total),
            ));
        }
        if refund <= 0 || refund > order.total - order.refunded {
            return Err(Reply::invalid_request(format!(
                "amount.refund {refund} exceeds the refundable amount {}",
                order.total - order.refunded
            )));
        }
        order.refunded += refund;
        order.state = TradeState::Refund;
        let record = Refund {
            refund_id: format!("50{}{}{}", random_digits(9), yyyymmdd_cst(ctx.now), random_digits(10)),
            out_refund_no: out_refund_no.clone(),
            transaction_id: order.transaction_id.clone().unwrap_or_default(),
            out_trade_no: order.out_trade_no.clone(),
            mchid: order.mchid.clone(),
            refund,
            total,
            currency,
            status: RefundStatus::Processing,
            create_time: ctx.now,
            success_time: None,
            notify_url: opt_str(body, "notify_url")?,
            changed_at: Instant::now(),
        };
        let reply = Reply::ok(&record.answer());
        self.by_out_refund_no.insert(out_refund_no, record);
        Ok(reply)
    }

    pub(crate) fn query(&self, ctx: &Ctx<'_>) -> Result<Reply, Reply> {
        let no = ctx.param("out_refund_no");
        let refund = self
            .by_out_refund_no
            .get(no)
            .ok_or_else(|| Reply::error(404, "RESOURCE_NOT_EXISTS", format!("no refund {no}")))?;
        Ok(Reply::ok(&refund.answer()))
    }
}
