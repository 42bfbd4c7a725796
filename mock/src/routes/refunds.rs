//! Domestic refunds over HTTP: create (idempotent by `out_refund_no`) and query. The refunds themselves live
//! in [`crate::state::refunds`].

use super::{Ctx, opt_str, req_int, req_str};
use crate::reply::Reply;
use crate::state::orders::{Orders, TradeState};
use crate::state::refunds::{Refund, RefundStatus, Refunds};
use crate::util::{random_digits, yyyymmdd_cst};

/// 404 `RESOURCE_NOT_EXISTS`: WeChat Pay's answer for a refund of an order it never saw.
fn order_not_exists() -> Reply {
    Reply::error(404, "RESOURCE_NOT_EXISTS", "订单不存在")
}

pub(crate) fn create(refunds: &mut Refunds, orders: &mut Orders, ctx: &Ctx<'_>) -> Result<Reply, Reply> {
    let body = ctx.body()?;
    let out_refund_no = req_str(body, "out_refund_no")?;
    let refund = req_int(body, "amount.refund")?;
    let total = req_int(body, "amount.total")?;
    let currency = req_str(body, "amount.currency")?;
    let transaction_id = opt_str(body, "transaction_id")?;
    let out_trade_no = opt_str(body, "out_trade_no")?;
    let order = match (&transaction_id, &out_trade_no) {
        (Some(id), _) => orders.by_transaction_id(id),
        (None, Some(no)) => orders.get(no),
        (None, None) => {
            return Err(Reply::param_error(
                "transaction_id",
                "body",
                "one of transaction_id and out_trade_no is required",
            ));
        }
    };
    let out_trade_no = order.ok_or_else(order_not_exists)?.out_trade_no.clone();
    if let Some(existing) = refunds.get(&out_refund_no) {
        // A retry with the same out_refund_no answers the same refund; other amounts are refused.
        if existing.out_trade_no != out_trade_no || existing.refund != refund || existing.total != total {
            return Err(Reply::invalid_request("订单金额或退款金额与之前请求不一致，请核实后再试"));
        }
        return Ok(Reply::ok(&existing.answer()));
    }
    let order = orders.get_mut(&out_trade_no).ok_or_else(order_not_exists)?;
    if !matches!(order.state, TradeState::Success | TradeState::Refund) {
        return Err(Reply::invalid_request("订单未支付，不能退款"));
    }
    if total != order.total {
        return Err(Reply::param_error(
            "amount.total",
            "body",
            format!("amount.total {total} is not the order total {}", order.total),
        ));
    }
    if refund <= 0 || refund > order.total - order.refunded {
        return Err(Reply::invalid_request("申请退款金额超过订单可退金额"));
    }
    order.refunded += refund;
    order.state = TradeState::Refund;
    let record = Refund {
        refund_id: format!("50{}{}{}", random_digits(9), yyyymmdd_cst(ctx.now), random_digits(10)),
        out_refund_no,
        transaction_id: order.transaction_id.clone().unwrap_or_default(),
        out_trade_no,
        mchid: order.mchid.clone(),
        refund,
        total,
        currency,
        status: RefundStatus::Processing,
        create_time: ctx.now,
        success_time: None,
        notify_url: opt_str(body, "notify_url")?,
        changed_at: ctx.at,
    };
    let reply = Reply::ok(&record.answer());
    refunds.insert(record);
    Ok(reply)
}

pub(crate) fn query(refunds: &Refunds, ctx: &Ctx<'_>) -> Result<Reply, Reply> {
    let refund = refunds
        .get(ctx.param("out_refund_no"))
        .ok_or_else(|| Reply::error(404, "RESOURCE_NOT_EXISTS", "退款单不存在"))?;
    Ok(Reply::ok(&refund.answer()))
}
