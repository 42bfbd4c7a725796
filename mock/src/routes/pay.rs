//! Basic payments over HTTP: native / JSAPI / APP / H5 prepay, query by `transaction_id` and by `out_trade_no`,
//! close. The orders themselves live in [`crate::state::orders`].

use serde_json::{Value, json};

use super::{Ctx, opt_str, req_int, req_str, req_value};
use crate::reply::Reply;
use crate::state::orders::{Order, Orders, TradeState, TradeType};
use crate::util::{compact_datetime_cst, random_alnum, random_digits};

/// 404 `ORDER_NOT_EXIST`: WeChat Pay's answer for an order it never saw (query and close).
fn order_not_exist() -> Reply {
    Reply::error(404, "ORDER_NOT_EXIST", "订单不存在")
}

pub(crate) fn prepay(orders: &mut Orders, ctx: &Ctx<'_>, kind: TradeType) -> Result<Reply, Reply> {
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
    if let Some(existing) = orders.get(&out_trade_no) {
        return match existing.state {
            TradeState::Closed => Err(Reply::error(400, "ORDER_CLOSED", "订单已关闭")),
            // A retry of the same prepay answers the same prepay.
            TradeState::NotPay if existing.request == request => Ok(Reply::ok(&existing.prepay)),
            TradeState::NotPay => Err(Reply::invalid_request("201 商户订单号重复")),
            _ => Err(Reply::invalid_request("该订单已支付")),
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
    orders.insert(Order {
        trade_type: kind,
        appid,
        mchid,
        description,
        out_trade_no,
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
        created_at: ctx.at,
    });
    Ok(Reply::ok(&prepay))
}

pub(crate) fn query(orders: &Orders, ctx: &Ctx<'_>, by_id: bool) -> Result<Reply, Reply> {
    let mchid = ctx.required_query("mchid")?;
    if mchid != ctx.keys.mchid {
        return Err(Reply::param_error("mchid", "query", "mchid is not the merchant that signed the request"));
    }
    let order = if by_id {
        orders.by_transaction_id(ctx.param("transaction_id"))
    } else {
        orders.get(ctx.param("out_trade_no"))
    };
    Ok(Reply::ok(&order.ok_or_else(order_not_exist)?.resource()))
}

pub(crate) fn close(orders: &mut Orders, ctx: &Ctx<'_>) -> Result<Reply, Reply> {
    let body = ctx.body()?;
    let mchid = req_str(body, "mchid")?;
    if mchid != ctx.keys.mchid {
        return Err(Reply::param_error("mchid", "body", "mchid is not the merchant that signed the request"));
    }
    let order = orders.get_mut(ctx.param("out_trade_no")).ok_or_else(order_not_exist)?;
    match order.state {
        TradeState::NotPay | TradeState::Closed | TradeState::PayError => {
            order.state = TradeState::Closed;
            Ok(Reply::no_content())
        }
        _ => Err(Reply::error(400, "ORDERPAID", "订单已支付")),
    }
}
