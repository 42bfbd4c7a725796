//! Transfers over HTTP: the QQ-wallet family (`transfer-to-qq-wallet-bills`) and merchant transfers
//! (`transfer-bills`), with create (idempotent), query and cancel. The bills themselves live in
//! [`crate::state::transfers`].

use serde_json::{Map, Value, json};

use super::{Ctx, opt_str, req_str, req_value};
use crate::reply::Reply;
use crate::state::transfers::{Transfer, TransferKind, TransferState, Transfers};
use crate::util::{random_alnum, random_digits, rfc3339_cst, yyyymmdd_cst};

/// 404 `NOT_FOUND`: WeChat Pay's answer for a transfer bill it never saw (or one of the other product).
fn not_found() -> Reply {
    Reply::error(404, "NOT_FOUND", "记录不存在")
}

pub(crate) fn create(transfers: &mut Transfers, ctx: &Ctx<'_>, kind: TransferKind) -> Result<Reply, Reply> {
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
        return Err(Reply::param_error("transfer_amount", "body", "transfer_amount must be a positive number (fen)"));
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

    if let Some(existing) = transfers.get(&out_bill_no) {
        // Idempotency: the same out_bill_no with the same content answers the existing bill.
        if existing.kind != kind
            || existing.appid != appid
            || existing.openid != openid
            || &existing.transfer_amount != amount
        {
            return Err(Reply::invalid_request("商户单号重复，且与原单参数不一致"));
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
        out_bill_no,
        transfer_bill_no,
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
        changed_at: ctx.at,
    };
    let reply = create_reply(&bill);
    transfers.insert(bill);
    Ok(reply)
}

pub(crate) fn query_qq(transfers: &Transfers, ctx: &Ctx<'_>) -> Result<Reply, Reply> {
    let bill =
        transfers.get(ctx.param("out_bill_no")).filter(|b| b.kind == TransferKind::QqWallet).ok_or_else(not_found)?;
    let mut v = common_fields(bill, ctx)?;
    v.insert("mchid".into(), json!(bill.mchid));
    if let Some(qq) = &bill.user_qq {
        v.insert("user_qq".into(), json!(qq));
    }
    Ok(Reply::ok(&Value::Object(v)))
}

pub(crate) fn query_mch(transfers: &Transfers, ctx: &Ctx<'_>, by_bill_no: bool) -> Result<Reply, Reply> {
    let out_bill_no = if by_bill_no {
        transfers.out_bill_no(ctx.param("transfer_bill_no")).ok_or_else(not_found)?
    } else {
        ctx.param("out_bill_no")
    };
    let bill = transfers.get(out_bill_no).filter(|b| b.kind == TransferKind::MchTransfer).ok_or_else(not_found)?;
    let mut v = common_fields(bill, ctx)?;
    v.insert("mch_id".into(), json!(bill.mchid));
    Ok(Reply::ok(&Value::Object(v)))
}

pub(crate) fn cancel(transfers: &mut Transfers, ctx: &Ctx<'_>, kind: TransferKind) -> Result<Reply, Reply> {
    let bill = transfers.get_mut(ctx.param("out_bill_no")).filter(|b| b.kind == kind).ok_or_else(not_found)?;
    match bill.state {
        TransferState::Success | TransferState::Fail => {
            return Err(Reply::invalid_request("转账单已是终态，不可撤销"));
        }
        // Cancelling again is idempotent: it answers the current state.
        TransferState::Canceling | TransferState::Cancelled => {}
        _ => {
            bill.state = TransferState::Canceling;
            bill.changed_at = ctx.at;
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
