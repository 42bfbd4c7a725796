//! The SDK's own runtimes: where requests run, on connection pools of the SDK's.
//!
//! Why not the caller's runtime: the blocking verbs must work from a plain `fn main()` and from inside any async
//! runtime without deadlocking, async futures must be `Send + 'static` and independent of the executor that polls
//! them, and pooled connections must not die with a caller's runtime ("dispatch task is gone").
//!
//! Two runtimes, each with its own connection pool:
//! - [`IoRuntime`], a small multi-threaded runtime, runs the async verbs (and background refreshes): their futures
//!   only wait for a task there, so any executor can poll them.
//! - [`DrivenRuntime`], a current-thread runtime with no thread of its own, runs the blocking verbs *on the calling
//!   thread*, which signs, writes, waits for the socket, reads and verifies itself: no hand-over to another thread
//!   and back for every request (each costs wake-ups and context switches, a large share of a request's CPU time
//!   next to the RSA work). Several threads may block at once: one of them drives the pool's connections while the
//!   others wait for their own answers (Tokio's current-thread `block_on`). Inside a caller's current-thread
//!   runtime, whose thread cannot be borrowed, the blocking verbs hand the request to the [`IoRuntime`] instead; so
//!   do APIv2 requests (their mutual-TLS pool lives there) and every request signed by a custom `Signer`, which may
//!   keep connections of its own: the driven runtime runs only while some thread blocks on it, so a connection
//!   pooled there would hang whoever uses it next from anywhere else.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use tokio::task::JoinHandle;

use crate::error::{Error, Result};

thread_local! {
    static ON_IO_THREAD: Cell<bool> = const { Cell::new(false) };
    static DRIVING: Cell<bool> = const { Cell::new(false) };
}

/// Whether the current thread is one of the SDK's I/O threads, where blocking on a request would deadlock.
pub(crate) fn on_io_thread() -> bool {
    ON_IO_THREAD.with(Cell::get)
}

/// Whether the current thread is inside a blocking verb already (a Signer or Verifier calling a blocking verb),
/// where Tokio would refuse to block on a second request.
pub(crate) fn driving() -> bool {
    DRIVING.with(Cell::get)
}

/// A multi-threaded Tokio runtime that shuts down without blocking when dropped, even from async code.
pub(crate) struct IoRuntime(Option<tokio::runtime::Runtime>);

impl IoRuntime {
    pub(crate) fn new(threads: usize) -> std::io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .thread_name("wechatpay-io")
            .on_thread_start(|| ON_IO_THREAD.with(|flag| flag.set(true)))
            .enable_all()
            .build()?;
        Ok(IoRuntime(Some(runtime)))
    }

    pub(crate) fn spawn<F>(&self, future: F) -> Option<JoinHandle<F::Output>>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.0.as_ref().map(|runtime| runtime.spawn(future))
    }
}

impl Drop for IoRuntime {
    fn drop(&mut self) {
        // Dropping a runtime blocks, which panics inside async code; shutting it down in the background does not.
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}

/// The runtime of the blocking verbs: a current-thread Tokio runtime that the threads calling them drive (see the
/// module documentation). It has no thread of its own; between blocking calls nothing runs on it, and its idle
/// pooled connections simply wait for the next call.
pub(crate) struct DrivenRuntime {
    runtime: Option<tokio::runtime::Runtime>,
    id: tokio::runtime::Id,
}

impl DrivenRuntime {
    pub(crate) fn new() -> std::io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        let id = runtime.handle().id();
        Ok(DrivenRuntime { runtime: Some(runtime), id })
    }

    /// Whether `handle` is this runtime's: futures running here use this runtime's connection pool.
    pub(crate) fn is(&self, handle: &tokio::runtime::Handle) -> bool {
        handle.id() == self.id
    }

    /// Runs `future` to completion on the calling thread. The caller makes sure this thread is in no runtime
    /// context (Tokio panics otherwise) and not driving already ([`driving`]). A panic of the future (in a custom
    /// Signer or Verifier) is an error, as it is on the [`IoRuntime`].
    pub(crate) fn block_on<T>(&self, future: impl Future<Output = Result<T>>) -> Result<T> {
        let Some(runtime) = &self.runtime else {
            return Err(Error::runtime("the SDK's runtime has shut down"));
        };
        struct Driving;
        impl Drop for Driving {
            fn drop(&mut self) {
                DRIVING.with(|flag| flag.set(false));
            }
        }
        DRIVING.with(|flag| flag.set(true));
        let _driving = Driving;
        let settled = async {
            settle().await;
            future.await
        };
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| runtime.block_on(settled))).unwrap_or_else(|_| {
            Err(Error::runtime("the request panicked on the calling thread (in a custom Signer or Verifier?)"))
        })
    }
}

/// What a request's task on the I/O runtime ended with when it did not return: a panic or a shutdown.
pub(crate) fn join_error(err: tokio::task::JoinError) -> Error {
    if err.is_panic() {
        Error::runtime(
            "the request panicked in the SDK's I/O runtime: in a custom Signer or Verifier? If not, this is a bug, \
             please report it",
        )
    } else {
        Error::runtime("the SDK's I/O runtime shut down before the request finished")
    }
}

/// Lets the runtime catch up before a request picks a pooled connection. Between blocking calls nothing drives
/// this runtime, so a connection the server closed meanwhile (its keep-alive ran out) still looks usable, and a
/// request sent on it would fail after it was written. The first yield lets the runtime poll its I/O driver, which
/// wakes the task of every connection with news (an end of file); the second lets those tasks run, and a closed
/// connection leave the pool, before this request goes on (a curl-style liveness check, done by the connections'
/// own tasks). `tests/client.rs` checks it: a pooled connection the server closed between blocking calls.
async fn settle() {
    tokio::task::yield_now().await;
    tokio::task::yield_now().await;
}

impl Drop for DrivenRuntime {
    fn drop(&mut self) {
        // As for the I/O runtime: never block (or panic) when the last Builder is dropped inside async code.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// The future of an `..._async` verb: `Send + Sync + 'static`, pollable from any executor (Tokio, async-std,
/// smol, `futures::executor::block_on`...), or waited for with [`wait`](Self::wait), PHP's `->wait()`.
///
/// **Lazy.** Nothing is sent until the future is first polled (`.await`, `tokio::spawn`, `join!`, `wait`): making
/// one and dropping it unpolled sends nothing. Bad options are reported when it is polled, too.
///
/// **Dropping it** once polled cancels the request at its next step, as with reqwest: nothing more is sent or read,
/// and the connection is closed rather than reused. If the request had already been written out, WeChat Pay may
/// have received it and may act on it (a payment, a transfer, a refund): query the resource before retrying
/// anything that moves money, exactly as after a [`Timeout`](crate::Error::Timeout). Spawned with `tokio::spawn`,
/// it runs to completion even if the `JoinHandle` is dropped.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> wechatpay::Result<()> {
/// # let server = wechatpay_mock::Server::builder()
/// #     .identities(wechatpay_mock::Identities::shared().unwrap()).start_blocking().unwrap();
/// # let ids = server.identities();
/// # let instance = wechatpay::Builder::factory(serde_json::json!({
/// #     "mchid": ids.mchid, "serial": ids.merchant.serial, "privateKey": ids.merchant.private_key_pem,
/// #     "certs": {ids.platform.serial.clone(): ids.platform.certificate_pem}, "base_uri": server.base_uri(),
/// # }))?;
/// // Both requests run at once on the SDK's I/O threads.
/// let (certificates, notifications) = tokio::join!(
///     instance.v3().certificates().get_async(()),
///     instance.v3().merchant_service().complaint_notifications().get_async(()),
/// );
/// assert_eq!(certificates?.status(), 200);
/// assert_eq!(notifications?.status(), 200);
///
/// // Made and dropped without a poll: nothing was sent.
/// let before = server.received_requests().len();
/// drop(instance.v3().certificates().get_async(()));
/// assert_eq!(server.received_requests().len(), before);
/// # Ok(()) }
/// ```
#[must_use = "a request is not sent until its future is awaited, spawned or waited for"]
pub struct ResponseFuture<T = crate::Response> {
    state: State<T>,
}

/// Starts the task on the I/O runtime, on the first poll.
type Start<T> = Box<dyn FnOnce() -> Result<JoinHandle<Result<T>>> + Send>;

enum State<T> {
    Failed(Option<Error>),
    /// Not polled yet; the mutex only makes the future `Sync` (polling has `&mut` access and never locks).
    Lazy(std::sync::Mutex<Option<Start<T>>>),
    Running(JoinHandle<Result<T>>),
    Done,
}

impl<T> ResponseFuture<T> {
    pub(crate) fn failed(error: Error) -> Self {
        ResponseFuture { state: State::Failed(Some(error)) }
    }

    /// A future that runs `start`'s task once first polled.
    pub(crate) fn lazy(start: impl FnOnce() -> Result<JoinHandle<Result<T>>> + Send + 'static) -> Self {
        ResponseFuture { state: State::Lazy(std::sync::Mutex::new(Some(Box::new(start)))) }
    }

    /// Waits for the answer on this thread, as PHP's `->wait()`: the request runs on the SDK's I/O threads, so this
    /// works from a plain `fn main()` and from inside any async runtime (in a multi-threaded Tokio runtime the
    /// other tasks move off this thread meanwhile). In async code, prefer `.await`. Called on one of the SDK's own
    /// threads (in a custom [`Signer`](crate::Signer)) it is an error rather than a deadlock.
    ///
    /// ```
    /// # let server = wechatpay_mock::Server::builder()
    /// #     .identities(wechatpay_mock::Identities::shared().unwrap()).start_blocking().unwrap();
    /// # let ids = server.identities();
    /// # let instance = wechatpay::Builder::factory(serde_json::json!({
    /// #     "mchid": ids.mchid, "serial": ids.merchant.serial, "privateKey": ids.merchant.private_key_pem,
    /// #     "certs": {ids.platform.serial.clone(): ids.platform.certificate_pem}, "base_uri": server.base_uri(),
    /// # }))?;
    /// // PHP: $instance->v3->certificates->getAsync()->then(fn($r) => (string)$r->getBody())->wait();
    /// let body = instance.v3().certificates().get_async(()).wait()?.text()?.to_owned();
    /// assert!(body.contains(&ids.platform.serial));
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn wait(self) -> Result<T> {
        if on_io_thread() {
            return Err(Error::runtime(
                "wait() was called on one of the SDK's own I/O threads (from a Signer or Verifier?), where it would \
                 deadlock: .await the future there",
            ));
        }
        let run = || block_here(self);
        match tokio::runtime::Handle::try_current().map(|handle| handle.runtime_flavor()) {
            Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(run),
            _ => run(),
        }
    }
}

impl<T> Future for ResponseFuture<T> {
    type Output = Result<T>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if let State::Lazy(start) = &mut self.state {
            let start = start.get_mut().unwrap_or_else(std::sync::PoisonError::into_inner).take();
            self.state = match start.map(|start| start()) {
                Some(Ok(handle)) => State::Running(handle),
                Some(Err(err)) => State::Failed(Some(err)),
                None => State::Done,
            };
        }
        let output = match &mut self.state {
            State::Failed(error) => Poll::Ready(Err(error.take().unwrap_or_else(polled_after_completion))),
            State::Done | State::Lazy(_) => Poll::Ready(Err(polled_after_completion())),
            State::Running(handle) => {
                Pin::new(handle).poll(cx).map(|joined| joined.unwrap_or_else(|err| Err(join_error(err))))
            }
        };
        if output.is_ready() {
            self.state = State::Done;
        }
        output
    }
}

fn polled_after_completion() -> Error {
    Error::runtime("this request's future was polled again after it completed")
}

/// Runs a future to completion on this thread, parking between polls. Every future of this crate waits on work
/// done by the SDK's I/O runtime (a task, a channel it feeds), so it needs no executor of its own, and this works
/// inside any caller's runtime, where Tokio's `block_on` would panic.
pub(crate) fn block_here<F: Future>(future: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
        fn wake_by_ref(self: &Arc<Self>) {
            self.0.unpark();
        }
    }
    let mut future = std::pin::pin!(future);
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut context = Context::from_waker(&waker);
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut context) {
            return output;
        }
        std::thread::park();
    }
}

impl<T> Drop for ResponseFuture<T> {
    fn drop(&mut self) {
        if let State::Running(handle) = &self.state {
            handle.abort();
        }
    }
}

impl<T> std::fmt::Debug for ResponseFuture<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self.state {
            State::Failed(_) => "ResponseFuture(failed)",
            State::Lazy(_) => "ResponseFuture(not started)",
            State::Running(_) => "ResponseFuture(running)",
            State::Done => "ResponseFuture(done)",
        })
    }
}
