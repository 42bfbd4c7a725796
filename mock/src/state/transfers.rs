//! Transfer bills with their state machine: the QQ-wallet family (`transfer-to-qq-wallet-bills`) and merchant
//! transfers (`transfer-bills`): how they move on (by a test, or by auto-advance one state per step) and how
//! the `MCHTRANSFER.BILL.FINISHED` callbacks show them.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde_json::{Value, json};

use super::{Event, Moment};
use crate::error::MockError;
use crate::util::rfc3339_cst;

/// The state of a transfer bill (`state` in the answers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TransferState {
    /// `ACCEPTED`: the transfer was accepted.
    Accepted,
    /// `PROCESSING`: being processed.
    Processing,
    /// `WAIT_USER_CONFIRM`: waiting for the payee to confirm.
    WaitUserConfirm,
    /// `TRANSFERING` (sic): being transferred after the payee confirmed.
    Transfering,
    /// `SUCCESS`: done (final).
    Success,
    /// `FAIL`: failed (final), with a `fail_reason`.
    Fail,
    /// `CANCELING`: the merchant's cancel was accepted and is in progress.
    Canceling,
    /// `CANCELLED`: cancelled (final).
    Cancelled,
}

impl TransferState {
    /// Every state, in the order of the enum.
    pub const ALL: [TransferState; 8] = [
        TransferState::Accepted,
        TransferState::Processing,
        TransferState::WaitUserConfirm,
        TransferState::Transfering,
        TransferState::Success,
        TransferState::Fail,
        TransferState::Canceling,
        TransferState::Cancelled,
    ];

    /// The wire name, e.g. `WAIT_USER_CONFIRM`.
    pub fn as_str(self) -> &'static str {
        match self {
            TransferState::Accepted => "ACCEPTED",
            TransferState::Processing => "PROCESSING",
            TransferState::WaitUserConfirm => "WAIT_USER_CONFIRM",
            TransferState::Transfering => "TRANSFERING",
            TransferState::Success => "SUCCESS",
            TransferState::Fail => "FAIL",
            TransferState::Canceling => "CANCELING",
            TransferState::Cancelled => "CANCELLED",
        }
    }

    /// `SUCCESS`, `FAIL` and `CANCELLED` never change again.
    pub fn is_final(self) -> bool {
        matches!(self, TransferState::Success | TransferState::Fail | TransferState::Cancelled)
    }

    /// The state a bill moves to when it advances on its own: ACCEPTED → PROCESSING → WAIT_USER_CONFIRM →
    /// TRANSFERING → SUCCESS, and CANCELING → CANCELLED; `None` for final states.
    pub fn next(self) -> Option<TransferState> {
        match self {
            TransferState::Accepted => Some(TransferState::Processing),
            TransferState::Processing => Some(TransferState::WaitUserConfirm),
            TransferState::WaitUserConfirm => Some(TransferState::Transfering),
            TransferState::Transfering => Some(TransferState::Success),
            TransferState::Canceling => Some(TransferState::Cancelled),
            TransferState::Success | TransferState::Fail | TransferState::Cancelled => None,
        }
    }
}

impl fmt::Display for TransferState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for TransferState {
    type Err = MockError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        TransferState::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| MockError::InvalidState(format!("{s} is not a transfer state")))
    }
}

/// Which product a bill belongs to (their answers differ slightly).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TransferKind {
    QqWallet,
    MchTransfer,
}

#[derive(Debug, Clone)]
pub(crate) struct Transfer {
    pub(crate) kind: TransferKind,
    pub(crate) mchid: String,
    pub(crate) out_bill_no: String,
    pub(crate) transfer_bill_no: String,
    pub(crate) appid: String,
    pub(crate) openid: String,
    pub(crate) user_qq: Option<String>,
    /// Decrypted; re-encrypted for the merchant in answers.
    pub(crate) user_name: Option<String>,
    pub(crate) transfer_amount: Value,
    pub(crate) transfer_remark: String,
    pub(crate) notify_url: Option<String>,
    pub(crate) package_info: Option<String>,
    pub(crate) state: TransferState,
    pub(crate) fail_reason: Option<String>,
    pub(crate) create_time: i64,
    pub(crate) update_time: i64,
    /// When its state last changed, on the simulator's clock (auto-advance counts from here).
    pub(crate) changed_at: Duration,
}

impl Transfer {
    pub(crate) fn set_state(&mut self, state: TransferState, now: Moment, events: &mut Vec<Event>) {
        if self.state == state {
            return;
        }
        self.state = state;
        self.changed_at = now.at;
        self.update_time = now.secs;
        if state == TransferState::Fail && self.fail_reason.is_none() {
            self.fail_reason = Some("PAYEE_ACCOUNT_ABNORMAL".to_owned());
        }
        if state.is_final() && self.notify_url.is_some() {
            events.push(Event::Transfer(self.out_bill_no.clone()));
        }
    }

    /// The plaintext resource of a `MCHTRANSFER.BILL.FINISHED` callback.
    pub(crate) fn notification_resource(&self) -> Value {
        let mut v = json!({
            "mch_id": self.mchid,
            "out_bill_no": self.out_bill_no,
            "transfer_bill_no": self.transfer_bill_no,
            "state": self.state.as_str(),
            "transfer_amount": self.transfer_amount,
            "openid": self.openid,
            "create_time": rfc3339_cst(self.create_time),
            "update_time": rfc3339_cst(self.update_time),
        });
        if let (Some(reason), Some(obj)) = (&self.fail_reason, v.as_object_mut()) {
            obj.insert("fail_reason".into(), json!(reason));
        }
        v
    }
}

/// All transfer bills, keyed by `out_bill_no` (one namespace for both products).
#[derive(Debug, Default)]
pub(crate) struct Transfers {
    by_out_bill_no: HashMap<String, Transfer>,
    by_bill_no: HashMap<String, String>,
}

impl Transfers {
    pub(crate) fn get(&self, out_bill_no: &str) -> Option<&Transfer> {
        self.by_out_bill_no.get(out_bill_no)
    }

    pub(crate) fn get_mut(&mut self, out_bill_no: &str) -> Option<&mut Transfer> {
        self.by_out_bill_no.get_mut(out_bill_no)
    }

    /// The `out_bill_no` of the bill with this `transfer_bill_no`.
    pub(crate) fn out_bill_no(&self, transfer_bill_no: &str) -> Option<&str> {
        self.by_bill_no.get(transfer_bill_no).map(String::as_str)
    }

    /// Records a new bill (the create endpoints check it first).
    pub(crate) fn insert(&mut self, bill: Transfer) {
        self.by_bill_no.insert(bill.transfer_bill_no.clone(), bill.out_bill_no.clone());
        self.by_out_bill_no.insert(bill.out_bill_no.clone(), bill);
    }

    /// Auto-advance: every bill that is not final moves one state along [`TransferState::next`] per `step`.
    pub(crate) fn catch_up(&mut self, step: Duration, now: Moment, events: &mut Vec<Event>) {
        // The chain is at most four steps long, so even a zero step ends.
        for bill in self.by_out_bill_no.values_mut() {
            while let Some(next) = bill.state.next() {
                let due = bill.changed_at.saturating_add(step);
                if due > now.at {
                    break;
                }
                bill.set_state(next, Moment { at: due, ..now }, events);
            }
        }
    }

    /// When auto-advance moves the next bill, on the simulator's clock.
    pub(crate) fn next_due(&self, step: Duration) -> Option<Duration> {
        self.by_out_bill_no
            .values()
            .filter(|bill| bill.state.next().is_some())
            .map(|bill| bill.changed_at.saturating_add(step))
            .min()
    }

    /// Test control: put a bill in any state.
    pub(crate) fn set_state(
        &mut self,
        out_bill_no: &str,
        state: TransferState,
        now: Moment,
        events: &mut Vec<Event>,
    ) -> Result<(), MockError> {
        let bill = self
            .by_out_bill_no
            .get_mut(out_bill_no)
            .ok_or_else(|| MockError::NotFound(format!("transfer bill {out_bill_no}")))?;
        bill.set_state(state, now, events);
        Ok(())
    }

    /// Test control: one step along [`TransferState::next`].
    pub(crate) fn advance(
        &mut self,
        out_bill_no: &str,
        now: Moment,
        events: &mut Vec<Event>,
    ) -> Result<TransferState, MockError> {
        let bill = self
            .by_out_bill_no
            .get_mut(out_bill_no)
            .ok_or_else(|| MockError::NotFound(format!("transfer bill {out_bill_no}")))?;
        let next = bill
            .state
            .next()
            .ok_or_else(|| MockError::InvalidState(format!("transfer bill {out_bill_no} is {}", bill.state)))?;
        bill.set_state(next, now, events);
        Ok(next)
    }
}
