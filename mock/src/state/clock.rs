//! The simulator's clock: what auto-pay and auto-advance count with, and the time its answers show.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::util::now_secs;

/// The clock that drives the simulator's time-driven state ([`ServerBuilder::auto_pay`] and
/// [`ServerBuilder::auto_advance`]) and the times its answers and callbacks show (`success_time`, `update_time`,
/// `create_time`, ...). Request signatures are always checked, and answers always signed, against the real time.
///
/// [`Clock::system`] (the default) runs with real time and can also be moved ahead; [`Clock::manual`] stands
/// still until a test moves it, so that a test decides exactly when an order is paid or a transfer ends:
///
/// ```
/// use std::time::Duration;
/// use wechatpay_mock::Clock;
///
/// let clock = Clock::manual();
/// assert_eq!(clock.elapsed(), Duration::ZERO);
/// clock.advance(Duration::from_secs(5));
/// assert_eq!(clock.elapsed(), Duration::from_secs(5));
/// let shared = clock.clone(); // clones are the same clock
/// shared.advance(Duration::from_secs(1));
/// assert_eq!(clock.elapsed(), Duration::from_secs(6));
/// ```
///
/// [`ServerBuilder::auto_pay`]: crate::ServerBuilder::auto_pay
/// [`ServerBuilder::auto_advance`]: crate::ServerBuilder::auto_advance
#[derive(Clone)]
pub struct Clock(Arc<Inner>);

struct Inner {
    /// `None` for a manual clock.
    started: Option<Instant>,
    /// The wall-clock time (Unix seconds) when the clock was made.
    started_wall: i64,
    /// How far the clock was moved ahead; watched by the servers' timers so that they wake when it moves.
    advanced: tokio::sync::watch::Sender<Duration>,
}

impl Clock {
    /// Real time (plus whatever [`Clock::advance`] adds). The default.
    pub fn system() -> Clock {
        Clock::new(Some(Instant::now()))
    }

    /// A clock that stands still until [`Clock::advance`] (or [`Server::advance_time`](crate::Server::advance_time))
    /// moves it: for deterministic tests. The times answers show start at the wall-clock time it was made.
    pub fn manual() -> Clock {
        Clock::new(None)
    }

    fn new(started: Option<Instant>) -> Clock {
        let (advanced, _) = tokio::sync::watch::channel(Duration::ZERO);
        Clock(Arc::new(Inner { started, started_wall: now_secs(), advanced }))
    }

    /// Whether the clock only moves when advanced.
    pub fn is_manual(&self) -> bool {
        self.0.started.is_none()
    }

    /// How much time has passed on this clock since it was made.
    pub fn elapsed(&self) -> Duration {
        let advanced = *self.0.advanced.borrow();
        match self.0.started {
            Some(started) => started.elapsed().saturating_add(advanced),
            None => advanced,
        }
    }

    /// Moves the clock ahead by `by`. Servers that use it pay, advance and notify what has become due; a
    /// [`Server::advance_time`](crate::Server::advance_time) call does this before it returns.
    pub fn advance(&self, by: Duration) {
        self.0.advanced.send_modify(|advanced| *advanced = advanced.saturating_add(by));
    }

    /// The clock's time as Unix seconds: what answers show.
    pub(crate) fn wall_secs(&self) -> i64 {
        let secs = |d: Duration| i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
        match self.0.started {
            // Real time passes on the wall clock too: read it rather than add up an `Instant`.
            Some(_) => now_secs().saturating_add(secs(*self.0.advanced.borrow())),
            None => self.0.started_wall.saturating_add(secs(self.elapsed())),
        }
    }

    /// A receiver that sees every [`Clock::advance`].
    pub(crate) fn watch(&self) -> tokio::sync::watch::Receiver<Duration> {
        self.0.advanced.subscribe()
    }
}

impl Default for Clock {
    fn default() -> Self {
        Clock::system()
    }
}

impl fmt::Debug for Clock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Clock").field("manual", &self.is_manual()).field("elapsed", &self.elapsed()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves_only_when_advanced() {
        let clock = Clock::manual();
        let wall = clock.wall_secs();
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(clock.elapsed(), Duration::ZERO);
        clock.advance(Duration::from_secs(90));
        assert_eq!(clock.elapsed(), Duration::from_secs(90));
        assert_eq!(clock.wall_secs(), wall + 90);
        assert!(clock.is_manual());
    }

    #[test]
    fn a_system_clock_runs_and_can_skip_ahead() {
        let clock = Clock::system();
        let before = clock.elapsed();
        clock.advance(Duration::from_secs(3600));
        assert!(clock.elapsed() >= before + Duration::from_secs(3600));
        assert!(clock.wall_secs() >= now_secs() + 3599);
        let mut watch = clock.watch();
        clock.advance(Duration::from_secs(1));
        assert!(watch.has_changed().unwrap_or(false), "advances are seen by watchers");
        watch.mark_unchanged();
        assert!(!clock.is_manual());
    }
}
