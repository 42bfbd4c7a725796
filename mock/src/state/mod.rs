//! The simulated world: every object the simulator keeps (orders, refunds, transfer bills, bill files, uploads,
//! the APIv2 ledger), the clock that moves them on, and the events their changes raise. `routes/` and `v2`
//! read and change it through [`World::with`]; the engine turns the events into callbacks.
//!
//! Time-driven state is kept exact in two ways at once: every look at the world first catches up with the clock
//! (so an answer never shows a state that should have moved), and [`World::run_timers`] wakes when the next
//! object is due, so that callbacks go out on time even when nobody asks.

pub(crate) mod bills;
pub(crate) mod clock;
pub(crate) mod orders;
pub(crate) mod refunds;
pub(crate) mod transfers;
pub(crate) mod v2;

use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use serde_json::Value;

pub use clock::Clock;
use orders::TradeState;
use refunds::RefundStatus;

/// A moment on the simulator's clock: its reading (what the timers count with) and the Unix time answers show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Moment {
    pub(crate) at: Duration,
    pub(crate) secs: i64,
}

impl Moment {
    pub(crate) fn of(clock: &Clock) -> Moment {
        Moment { at: clock.elapsed(), secs: clock.wall_secs() }
    }
}

/// Something the merchant is told about by a callback, naming the object that changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Event {
    /// An order was paid or closed (`TRANSACTION.*`).
    Transaction(String),
    /// A refund ended (`REFUND.*`).
    Refund(String),
    /// A transfer bill reached a final state (`MCHTRANSFER.BILL.FINISHED`).
    Transfer(String),
    /// An APIv2 order was paid (the signed XML payment callback).
    V2Payment(String),
    /// An APIv2 refund ended (the XML callback with `req_info`).
    V2Refund(String),
}

/// What moves on its own, and how fast.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Timers {
    /// Orders are paid this long after they were made.
    pub(crate) auto_pay: Option<Duration>,
    /// Transfers, refunds and red packets move one state per this step.
    pub(crate) auto_advance: Option<Duration>,
}

/// The APIv3 callback an event causes (APIv2 callbacks are XML, written by [`crate::v2`]).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Callback {
    pub(crate) event_type: &'static str,
    pub(crate) summary: &'static str,
    pub(crate) original_type: &'static str,
    /// The plaintext of `resource.ciphertext`.
    pub(crate) resource: Value,
    pub(crate) notify_url: Option<String>,
}

/// Every object the simulator keeps.
#[derive(Debug, Default)]
pub(crate) struct State {
    pub(crate) transfers: transfers::Transfers,
    pub(crate) orders: orders::Orders,
    pub(crate) refunds: refunds::Refunds,
    pub(crate) bills: bills::Bills,
    pub(crate) uploads: u64,
    /// APIv2 orders, refunds, red packets and transfers to balance.
    pub(crate) apiv2: v2::Ledger,
    /// Changes that deserve a callback, waiting to be sent.
    pub(crate) events: Vec<Event>,
}

impl State {
    /// Moves every object on that is due by `now`: orders paid `auto_pay` after they were made, transfers,
    /// refunds and red packets one state per `auto_advance`.
    fn catch_up(&mut self, timers: Timers, now: Moment) {
        if let Some(delay) = timers.auto_pay {
            self.orders.catch_up(delay, now, &mut self.events);
        }
        if let Some(step) = timers.auto_advance {
            self.transfers.catch_up(step, now, &mut self.events);
            self.refunds.catch_up(step, now, &mut self.events);
        }
        self.apiv2.catch_up(timers.auto_pay, timers.auto_advance, now, &mut self.events);
    }

    /// When [`State::catch_up`] next has something to do, on the simulator's clock.
    fn next_due(&self, timers: Timers) -> Option<Duration> {
        let orders = timers.auto_pay.and_then(|delay| self.orders.next_due(delay));
        let advancing = timers.auto_advance.and_then(|step| {
            let transfers = self.transfers.next_due(step);
            let refunds = self.refunds.next_due(step);
            transfers.into_iter().chain(refunds).min()
        });
        let apiv2 = self.apiv2.next_due(timers.auto_pay, timers.auto_advance);
        [orders, advancing, apiv2].into_iter().flatten().min()
    }

    /// The APIv3 callback of an event, as the object now stands; `None` for an unknown object or an APIv2 event.
    pub(crate) fn callback(&self, event: &Event) -> Option<Callback> {
        match event {
            Event::Transaction(no) => {
                let order = self.orders.get(no)?;
                let (event_type, summary) = match order.state {
                    TradeState::Success | TradeState::Refund => ("TRANSACTION.SUCCESS", "支付成功"),
                    _ => ("TRANSACTION.CLOSED", "交易关闭"),
                };
                Some(Callback {
                    event_type,
                    summary,
                    original_type: "transaction",
                    resource: order.resource(),
                    notify_url: Some(order.notify_url.clone()),
                })
            }
            Event::Refund(no) => {
                let refund = self.refunds.get(no)?;
                let (event_type, summary) = match refund.status {
                    RefundStatus::Success => ("REFUND.SUCCESS", "退款成功"),
                    RefundStatus::Abnormal => ("REFUND.ABNORMAL", "退款异常"),
                    RefundStatus::Closed => ("REFUND.CLOSED", "退款关闭"),
                    RefundStatus::Processing => ("REFUND.PROCESSING", "退款处理中"),
                };
                Some(Callback {
                    event_type,
                    summary,
                    original_type: "refund",
                    resource: refund.notification_resource(),
                    notify_url: refund.notify_url.clone(),
                })
            }
            Event::Transfer(no) => {
                let bill = self.transfers.get(no)?;
                Some(Callback {
                    event_type: "MCHTRANSFER.BILL.FINISHED",
                    summary: "商家转账单据终态通知",
                    original_type: "mch_payment",
                    resource: bill.notification_resource(),
                    notify_url: bill.notify_url.clone(),
                })
            }
            Event::V2Payment(_) | Event::V2Refund(_) => None,
        }
    }
}

/// The state behind its lock, with the clock and the timers that move it.
#[derive(Debug)]
pub(crate) struct World {
    state: Mutex<State>,
    clock: Clock,
    timers: Timers,
    /// Wakes [`World::run_timers`] when a look may have made something new due (a new order, say).
    changed: tokio::sync::Notify,
}

fn lock(m: &Mutex<State>) -> MutexGuard<'_, State> {
    // Every change to the state is a whole assignment or insertion, so a poisoned lock still holds a usable state.
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl World {
    pub(crate) fn new(clock: Clock, timers: Timers) -> World {
        World { state: Mutex::new(State::default()), clock, timers, changed: tokio::sync::Notify::new() }
    }

    pub(crate) fn clock(&self) -> &Clock {
        &self.clock
    }

    /// Runs `f` on the state after catching up with the clock; returns its result and the events to send.
    pub(crate) fn with<R>(&self, f: impl FnOnce(&mut State, Moment) -> R) -> (R, Vec<Event>) {
        let done = self.locked(f);
        if self.timers != Timers::default() {
            // `f` may have made something new that will be due (an order, a refund): let the timers look again.
            self.changed.notify_one();
        }
        done
    }

    /// Runs `f` on the state as it stands, without catching up: for writing the callbacks of events that a
    /// catch-up has just raised.
    pub(crate) fn peek<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        f(&mut lock(&self.state))
    }

    /// Catches up with the clock now; returns the events to send.
    pub(crate) fn catch_up(&self) -> Vec<Event> {
        self.locked(|_, _| ()).1
    }

    fn locked<R>(&self, f: impl FnOnce(&mut State, Moment) -> R) -> (R, Vec<Event>) {
        let now = Moment::of(&self.clock);
        let mut state = lock(&self.state);
        state.catch_up(self.timers, now);
        let result = f(&mut state, now);
        (result, std::mem::take(&mut state.events))
    }

    /// Moves the world on by its timers for as long as the future runs, handing the events of every step to
    /// `send`: it sleeps until the next object is due (in real time, for a [`Clock::system`]), or until the
    /// clock is advanced or a look at the world may have made something new due. It never ends: a server drops
    /// it when it stops. Without timers it only waits.
    pub(crate) async fn run_timers(&self, send: impl Fn(Vec<Event>)) {
        if self.timers == Timers::default() {
            return std::future::pending().await;
        }
        let mut advanced = self.clock.watch();
        loop {
            let events = self.catch_up();
            if !events.is_empty() {
                send(events);
            }
            let next = lock(&self.state).next_due(self.timers);
            // A manual clock only moves when advanced: there is nothing to sleep for.
            let wait = next.filter(|_| !self.clock.is_manual()).map(|due| {
                // At least a millisecond, so that a due time that slipped by in between is not a busy loop.
                due.saturating_sub(self.clock.elapsed()).max(Duration::from_millis(1))
            });
            let sleep = async {
                match wait {
                    Some(wait) => tokio::time::sleep(wait).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                () = sleep => {}
                _ = advanced.changed() => {}
                () = self.changed.notified() => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_is_due_in_an_empty_world() {
        let state = State::default();
        let timers = Timers { auto_pay: Some(Duration::ZERO), auto_advance: Some(Duration::ZERO) };
        assert_eq!(state.next_due(timers), None);
        assert_eq!(state.callback(&Event::Transaction("none".into())), None);
        assert_eq!(state.callback(&Event::V2Payment("none".into())), None);
    }
}
