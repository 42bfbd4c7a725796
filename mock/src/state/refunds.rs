//! Domestic refunds: their statuses, how they end (by a test, or by auto-advance once their step has passed),
//! and how the query endpoint and the `REFUND.*` callbacks show them.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde_json::{Value, json};

use super::{Event, Moment};
use crate::error::MockError;
use crate::util::rfc3339_cst;

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
    pub(crate) currency: String,
    pub(crate) status: RefundStatus,
    pub(crate) create_time: i64,
    pub(crate) success_time: Option<i64>,
    pub(crate) notify_url: Option<String>,
    /// When its status last changed, on the simulator's clock (auto-advance counts from here).
    pub(crate) changed_at: Duration,
}

impl Refund {
    fn set_status(&mut self, status: RefundStatus, now: Moment, events: &mut Vec<Event>) {
        if self.status == status {
            return;
        }
        self.status = status;
        self.changed_at = now.at;
        if status == RefundStatus::Success {
            self.success_time = Some(now.secs);
        }
        if status != RefundStatus::Processing && self.notify_url.is_some() {
            events.push(Event::Refund(self.out_refund_no.clone()));
        }
    }

    /// The refund as the create and query endpoints answer it.
    pub(crate) fn answer(&self) -> Value {
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

    pub(crate) fn insert(&mut self, refund: Refund) {
        self.by_out_refund_no.insert(refund.out_refund_no.clone(), refund);
    }

    /// Auto-advance: every `PROCESSING` refund succeeds `step` after it was made.
    pub(crate) fn catch_up(&mut self, step: Duration, now: Moment, events: &mut Vec<Event>) {
        for refund in self.by_out_refund_no.values_mut() {
            let due = refund.changed_at.saturating_add(step);
            if refund.status == RefundStatus::Processing && due <= now.at {
                refund.set_status(RefundStatus::Success, Moment { at: due, ..now }, events);
            }
        }
    }

    /// When auto-advance ends the next refund, on the simulator's clock.
    pub(crate) fn next_due(&self, step: Duration) -> Option<Duration> {
        self.by_out_refund_no
            .values()
            .filter(|refund| refund.status == RefundStatus::Processing)
            .map(|refund| refund.changed_at.saturating_add(step))
            .min()
    }

    /// Test control: put a refund in any status.
    pub(crate) fn set_status(
        &mut self,
        out_refund_no: &str,
        status: RefundStatus,
        now: Moment,
        events: &mut Vec<Event>,
    ) -> Result<(), MockError> {
        let refund = self
            .by_out_refund_no
            .get_mut(out_refund_no)
            .ok_or_else(|| MockError::NotFound(format!("refund {out_refund_no}")))?;
        refund.set_status(status, now, events);
        Ok(())
    }
}
