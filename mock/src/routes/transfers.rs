//! Transfers with a state machine: the QQ-wallet family (`transfer-to-qq-wallet-bills`) and merchant
//! transfers (`transfer-bills`), with create (idempotent), query and cancel.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};

use super::{Ctx, Event, Reply, opt_str, req_str, req_value};
use crate::MockError;
use crate::util::{random_alnum, random_digits, rfc3339_cst, yyyymmdd_cst};

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
    kind: TransferKind,
    pub(crate) mchid: String,
    pub(crate) out_bill_no: String,
    pub(crate) transfer_bill_no: String,
    appid: String,
    openid: String,
    user_qq: Option<String>,
    /// Decrypted; re-encrypted for the merchant in answers.
    user_name: Option<String>,
    pub(crate) transfer_amount: Value,
    transfer_remark: String,
    pub(crate) notify_url: Option<String>,
    package_info: Option<String>,
    pub(crate) state: TransferState,
    pub(crate) fail_reason: Option<String>,
    pub(crate) create_time: i64,
    pub(crate) update_time: i64,
    changed_at: Instant,
}

impl Transfer {
    fn set_state(&mut self, state: TransferState, now: Instant, now_secs: i64, events: &mut Vec<Event>) {
        if self.state == state {
            return;
        }
        self.state = state;
        self.changed_at = now;
        self.update_time = now_secs;
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

fn not_found(what: &str) -> Reply {
    Reply::error(404, "NOT_FOUND", format!("no transfer bill {what}"))
}

impl Transfers {
    pub(crate) fn get(&self, out_bill_no: &str) -> Option<&Transfer> {
        self.by_out_bill_no.get(out_bill_no)
    }

    pub(crate) fn catch_up(&mut self, step: Duration, now: Instant, now_secs: i64, events: &mut Vec<Event>) {
        // The chain is at most four steps long, so even a zero step ends.
        for bill in self.by_out_bill_no.values_mut() {
            while let Some(next) = bill.state.next() {
                let due = bill.changed_at + step;
                if due > now {
                    break;
                }
                bill.set_state(next, due, now_secs, events);
            }
        }
    }

    /// Test control: put a bill in any state.
    pub(crate) fn set_state(
        &mut self,
        out_bill_no: &str,
        state: TransferState,
        now_secs: i64,
        events: &mut Vec<Event>,
    ) -> Result<(), MockError> {
        let bill = self
            .by_out_bill_no
            .get_mut(out_bill_no)
            .ok_or_else(|| MockError::NotFound(format!("transfer bill {out_bill_no}")))?;
        bill.set_state(state, Instant::now(), now_secs, events);
        Ok(())
    }

    /// Test control: one step along [`TransferState::next`].
    pub(crate) fn advance(
        &mut self,
        out_bill_no: &str,
        now_secs: i64,
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
        bill.set_state(next, Instant::now(), now_secs, events);
        Ok(next)
    }

    pub(crate) fn create(&mut self, ctx: &Ctx<'_>, kind: TransferKind) -> Result<Reply, Reply> {
        let body = ctx.body()?;
        let appid = req_str(body, "appid")?;
        let out_bill_no = req_str(body, "out_bill_no")?;
        let scene = req_str(body, "transfer_scene_id")?;
        let infos = req_value(body, "transfer_scene_report_infos")?;
        let Some(infos) = infos.as_array() else {
            return Err(Reply::param_error(
                "transfer_scene_report_infos",
                "body",
                "transfer_scene_report_infos must be an array",
            ));
        };
        for (i, info) in infos.iter().enumerate() {
            let Some(info) = info.as_object() else {
                return Err(Reply::param_error(
                    "transfer_scene_report_infos",
                    "body",
                    "each transfer_scene_report_infos item must be an object",
                ));
            };
            for field in ["info_type", "info_content"] {
                if req_str(info, field).is_err() {
                    let path = format!("transfer_scene_report_infos[{i}].{field}");
                    return Err(Reply::missing(&path, "body"));
                }
            }
        }
        let openid = req_str(body, "openid")?;
        let amount = req_value(body, "transfer_amount")?;
        if !amount.as_f64().is_some_and(|a| a > 0.0) {
            return Err(Reply::param_error(
                "transfer_amount",
                "body",
                "transfer_amount must be a positive number (fen)",
            ));
        }
        let remark = req_str(body, "transfer_remark")?;
        if kind == TransferKind::QqWallet && scene != "1401" {
            return Err(Reply::param_error(
                "transfer_scene_id",
                "body",
                "transfer_scene_id must be 1401 for QQ-wallet transfers",
            ));
        }
        let user_name = match opt_str(body, "user_name")? {
            Some(ct) => Some(ctx.decrypt_sensitive("user_name", &ct)?),
            None => None,
        };
        let notify_url = opt_str(body, "notify_url")?;
        let user_qq = opt_str(body, "user_qq")?;

        if let Some(existing) = self.by_out_bill_no.get(&out_bill_no) {
            // Idempotency: the same out_bill_no with the same content answers the existing bill.
            if existing.kind != kind {
                return Err(Reply::invalid_request(format!(
                    "out_bill_no {out_bill_no} is already used by another kind of transfer"
                )));
            }
            if existing.appid != appid || existing.openid != openid || &existing.transfer_amount != amount {
                return Err(Reply::invalid_request(format!(
                    "out_bill_no {out_bill_no} was already used with different appid, openid or transfer_amount"
                )));
            }
            return Ok(create_reply(existing));
        }

        let transfer_bill_no = format!("1330{}{}{}", random_digits(14), yyyymmdd_cst(ctx.now), random_digits(14));
        let state = match kind {
            TransferKind::QqWallet => TransferState::Accepted,
            TransferKind::MchTransfer => TransferState::WaitUserConfirm,
        };
        let bill = Transfer {
            kind,
            mchid: ctx.keys.mchid.clone(),
            out_bill_no: out_bill_no.clone(),
            transfer_bill_no: transfer_bill_no.clone(),
            appid,
            openid,
            user_qq,
            user_name,
            transfer_amount: amount.clone(),
            transfer_remark: remark,
            notify_url,
            package_info: (kind == TransferKind::MchTransfer).then(|| format!("{}==", random_alnum(40))),
            state,
            fail_reason: None,
            create_time: ctx.now,
            update_time: ctx.now,
            changed_at: Instant::now(),
        };
        let reply = create_reply(&bill);
        self.by_bill_no.insert(transfer_bill_no, out_bill_no.clone());
        self.by_out_bill_no.insert(out_bill_no, bill);
        Ok(reply)
    }

    pub(crate) fn query_qq(&self, ctx: &Ctx<'_>) -> Result<Reply, Reply> {
        let out_bill_no = ctx.param("out_bill_no");
        let bill = self
            .by_out_bill_no
            .get(out_bill_no)
            .filter(|b| b.kind == TransferKind::QqWallet)
            .ok_or_else(|| not_found(out_bill_no))?;
        let mut v = common_fields(bill, ctx)?;
        v.insert("mchid".into(), json!(bill.mchid));
        if let Some(qq) = &bill.user_qq {
            v.insert("user_qq".into(), json!(qq));
        }
        Ok(Reply::ok(&Value::Object(v)))
    }

    pub(crate) fn query_mch(&self, ctx: &Ctx<'_>, by_bill_no: bool) -> Result<Reply, Reply> {
        let key = if by_bill_no {
            let no = ctx.param("transfer_bill_no");
            self.by_bill_no.get(no).map(String::as_str).ok_or_else(|| not_found(no))?
        } else {
            ctx.param("out_bill_no")
        };
        let bill = self
            .by_out_bill_no
            .get(key)
            .filter(|b| b.kind == TransferKind::MchTransfer)
            .ok_or_else(|| not_found(key))?;
        let mut v = common_fields(bill, ctx)?;
        v.insert("mch_id".into(), json!(bill.mchid));
        Ok(Reply::ok(&Value::Object(v)))
    }

    pub(crate) fn cancel(&mut self, ctx: &Ctx<'_>, kind: TransferKind) -> Result<Reply, Reply> {
        let out_bill_no = ctx.param("out_bill_no");
        let bill = self
            .by_out_bill_no
            .get_mut(out_bill_no)
            .filter(|b| b.kind == kind)
            .ok_or_else(|| not_found(out_bill_no))?;
        match bill.state {
            TransferState::Success | TransferState::Fail => {
                return Err(Reply::invalid_request(format!(
                    "transfer bill {out_bill_no} is {} and can no longer be cancelled",
                    bill.state
                )));
            }
            // Cancelling again is idempotent: it answers the current state.
            TransferState::Canceling | TransferState::Cancelled => {}
            _ => {
                bill.state = TransferState::Canceling;
                bill.changed_at = Instant::now();
                bill.update_time = ctx.now;
            }
        }
        let mut v = json!({
            "out_bill_no": bill.out_bill_no,
            "transfer_bill_no": bill.transfer_bill_no,
            "state": bill.state.as_str(),
            "update_time": rfc3339_cst(bill.update_time),
        });
        if kind == TransferKind::QqWallet {
            if let Some(obj) = v.as_object_mut() {
                obj.insert("mchid".into(), json!(bill.mchid));
            }
        }
        Ok(Reply::ok(&v))
    }
}

fn create_reply(bill: &Transfer) -> Reply {
    let mut v = json!({
        "out_bill_no": bill.out_bill_no,
        "transfer_bill_no": bill.transfer_bill_no,
        "create_time": rfc3339_cst(bill.create_time),
        "state": bill.state.as_str(),
    });
    if let Some(obj) = v.as_object_mut() {
        match bill.kind {
            TransferKind::QqWallet => {
                obj.insert("mchid".into(), json!(bill.mchid));
                obj.insert("appid".into(), json!(bill.appid));
                obj.insert("openid".into(), json!(bill.openid));
                obj.insert("transfer_amount".into(), bill.transfer_amount.clone());
                obj.insert("transfer_remark".into(), json!(bill.transfer_remark));
            }
            TransferKind::MchTransfer => {
                if let Some(p) = &bill.package_info {
                    obj.insert("package_info".into(), json!(p));
                }
            }
        }
        if let Some(reason) = &bill.fail_reason {
            obj.insert("fail_reason".into(), json!(reason));
        }
    }
    Reply::ok(&v)
}

fn common_fields(bill: &Transfer, ctx: &Ctx<'_>) -> Result<Map<String, Value>, Reply> {
    let mut v = Map::new();
    v.insert("out_bill_no".into(), json!(bill.out_bill_no));
    v.insert("transfer_bill_no".into(), json!(bill.transfer_bill_no));
    v.insert("appid".into(), json!(bill.appid));
    v.insert("state".into(), json!(bill.state.as_str()));
    v.insert("transfer_amount".into(), bill.transfer_amount.clone());
    v.insert("transfer_remark".into(), json!(bill.transfer_remark));
    v.insert("openid".into(), json!(bill.openid));
    if let Some(reason) = &bill.fail_reason {
        v.insert("fail_reason".into(), json!(reason));
    }
    if let Some(name) = &bill.user_name {
        let ct = ctx
            .keys
            .encrypt_for_merchant(name)
            .map_err(|_| Reply::error(500, "SYSTEM_ERROR", "could not encrypt user_name for the merchant"))?;
        v.insert("user_name".into(), json!(ct));
    }
    v.insert("create_time".into(), json!(rfc3339_cst(bill.create_time)));
    v.insert("update_time".into(), json!(rfc3339_cst(bill.update_time)));
    Ok(v)
}
