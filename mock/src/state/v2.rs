//! APIv2 (XML) state: orders (`pay/unifiedorder`, `pay/micropay`), refunds, red packets and transfers to
//! balance, and how time moves them on. What the XML endpoints answer is [`crate::v2`]'s business.

use std::collections::HashMap;
use std::time::Duration;

use super::{Event, Moment};

/// The state of an APIv2 order (`trade_state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TradeState {
    NotPay,
    UserPaying,
    Success,
    Refund,
    Revoked,
    Closed,
}

impl TradeState {
    pub(crate) fn wire(self) -> &'static str {
        match self {
            TradeState::NotPay => "NOTPAY",
            TradeState::UserPaying => "USERPAYING",
            TradeState::Success => "SUCCESS",
            TradeState::Refund => "REFUND",
            TradeState::Revoked => "REVOKED",
            TradeState::Closed => "CLOSED",
        }
    }

    pub(crate) fn description(self) -> &'static str {
        match self {
            TradeState::NotPay => "订单未支付",
            TradeState::UserPaying => "需要用户输入支付密码",
            TradeState::Success => "支付成功",
            TradeState::Refund => "转入退款",
            TradeState::Revoked => "已撤销",
            TradeState::Closed => "已关闭",
        }
    }

    pub(crate) fn paid(self) -> bool {
        matches!(self, TradeState::Success | TradeState::Refund)
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Order {
    pub(crate) appid: String,
    pub(crate) out_trade_no: String,
    pub(crate) transaction_id: String,
    pub(crate) trade_type: String,
    pub(crate) total_fee: u64,
    pub(crate) refunded: u64,
    pub(crate) state: TradeState,
    pub(crate) openid: String,
    pub(crate) time_end: Option<i64>,
    /// A `USERPAYING` order is paid once it has been queried once (the payer types the password meanwhile).
    pub(crate) queried: bool,
    /// Where the payment callback goes (`pay/unifiedorder` only).
    pub(crate) notify_url: Option<String>,
    /// When it was made, on the simulator's clock (auto-pay counts from here).
    pub(crate) created_at: Duration,
}

impl Order {
    pub(crate) fn pay(&mut self, now: i64) {
        self.state = TradeState::Success;
        self.time_end = Some(now);
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Refund {
    pub(crate) out_refund_no: String,
    pub(crate) refund_id: String,
    pub(crate) out_trade_no: String,
    pub(crate) transaction_id: String,
    pub(crate) total_fee: u64,
    pub(crate) refund_fee: u64,
    pub(crate) success: Option<i64>,
    /// A refund ends once it has been queried once.
    pub(crate) queried: bool,
    /// Where the refund callback goes, when the request named one.
    pub(crate) notify_url: Option<String>,
    /// When it was made, on the simulator's clock (auto-advance counts from here).
    pub(crate) created_at: Duration,
}

impl Refund {
    pub(crate) fn status(&self) -> &'static str {
        if self.success.is_some() { "SUCCESS" } else { "PROCESSING" }
    }
}

/// A red packet sent by `mmpaymkttransfers/sendredpack`.
#[derive(Debug, Clone)]
pub(crate) struct RedPacket {
    pub(crate) send_listid: String,
    pub(crate) openid: String,
    pub(crate) total_amount: u64,
    pub(crate) send_time: i64,
    /// When the payee opened it (auto-advance opens it one step after it was sent).
    pub(crate) received: Option<i64>,
    pub(crate) created_at: Duration,
}

/// A transfer to a user's balance made by `mmpaymkttransfers/promotion/transfers`.
#[derive(Debug, Clone)]
pub(crate) struct Payment {
    pub(crate) partner_trade_no: String,
    pub(crate) payment_no: String,
    pub(crate) payment_time: i64,
    pub(crate) openid: String,
    pub(crate) amount: u64,
    pub(crate) desc: String,
}

/// The APIv2 state: orders by `out_trade_no`, refunds in creation order, red packets by `mch_billno`,
/// transfers to balance by `partner_trade_no`.
#[derive(Debug, Default)]
pub(crate) struct Ledger {
    pub(crate) orders: HashMap<String, Order>,
    pub(crate) refunds: Vec<Refund>,
    pub(crate) red_packets: HashMap<String, RedPacket>,
    pub(crate) payments: HashMap<String, Payment>,
}

impl Ledger {
    /// The order a request names by `transaction_id` (first) or `out_trade_no`.
    pub(crate) fn order_by(&mut self, get: &dyn Fn(&str) -> Option<String>) -> Option<&mut Order> {
        if let Some(id) = get("transaction_id").filter(|id| !id.is_empty()) {
            return self.orders.values_mut().find(|o| o.transaction_id == id);
        }
        get("out_trade_no").and_then(|no| self.orders.get_mut(&no))
    }

    /// Auto-pay: `NOTPAY` orders are paid (and `USERPAYING` ones get their password) `delay` after they were
    /// made. Auto-advance: refunds succeed and red packets are opened `step` after they were made.
    pub(crate) fn catch_up(
        &mut self,
        auto_pay: Option<Duration>,
        auto_advance: Option<Duration>,
        now: Moment,
        events: &mut Vec<Event>,
    ) {
        if let Some(delay) = auto_pay {
            for order in self.orders.values_mut() {
                let payable = matches!(order.state, TradeState::NotPay | TradeState::UserPaying);
                if payable && order.created_at.saturating_add(delay) <= now.at {
                    order.pay(now.secs);
                    if order.notify_url.is_some() {
                        events.push(Event::V2Payment(order.out_trade_no.clone()));
                    }
                }
            }
        }
        if let Some(step) = auto_advance {
            for refund in &mut self.refunds {
                if refund.success.is_none() && refund.created_at.saturating_add(step) <= now.at {
                    refund.success = Some(now.secs);
                    if refund.notify_url.is_some() {
                        events.push(Event::V2Refund(refund.out_refund_no.clone()));
                    }
                }
            }
            for packet in self.red_packets.values_mut() {
                if packet.received.is_none() && packet.created_at.saturating_add(step) <= now.at {
                    packet.received = Some(now.secs);
                }
            }
        }
    }

    /// When [`Ledger::catch_up`] next has something to do, on the simulator's clock.
    pub(crate) fn next_due(&self, auto_pay: Option<Duration>, auto_advance: Option<Duration>) -> Option<Duration> {
        let orders = auto_pay.and_then(|delay| {
            self.orders
                .values()
                .filter(|o| matches!(o.state, TradeState::NotPay | TradeState::UserPaying))
                .map(|o| o.created_at.saturating_add(delay))
                .min()
        });
        let advancing = auto_advance.and_then(|step| {
            let refunds = self.refunds.iter().filter(|r| r.success.is_none()).map(|r| r.created_at);
            let packets = self.red_packets.values().filter(|p| p.received.is_none()).map(|p| p.created_at);
            refunds.chain(packets).min().map(|at| at.saturating_add(step))
        });
        orders.into_iter().chain(advancing).min()
    }
}
