//! The SDK's own I/O runtime: every request (blocking or async) runs here, on one connection pool.
//!
//! Why not the caller's runtime: the blocking verbs must work from a plain `fn main()` and from inside any async
//! runtime without deadlocking, async futures must be `Send + 'static` and independent of the executor that polls
//! them, and pooled connections must not die with a caller's runtime ("dispatch task is gone").

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::task::JoinHandle;

use crate::error::{Error, Result};

thread_local! {
    static ON_IO_THREAD: Cell<bool> = const { Cell::new(false) };
}

/// Whether the current thread is one of the SDK's I/O threads, where blocking on a request would deadlock.
pub(crate) fn on_io_thread() -> bool {
    ON_IO_THREAD.with(Cell::get)
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

/// The future of an `..._async` verb: `Send + 'static`, pollable from any executor. Dropping it cancels the
/// request, as with reqwest.
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
/// # Ok(()) }
/// ```
#[must_use = "a request does nothing unless its future is awaited"]
pub struct ResponseFuture<T = crate::Response> {
    state: State<T>,
}

enum State<T> {
    Failed(Option<Error>),
    Running(JoinHandle<Result<T>>),
    Done,
}

impl<T> ResponseFuture<T> {
    pub(crate) fn failed(error: Error) -> Self {
        ResponseFuture { state: State::Failed(Some(error)) }
    }

    pub(crate) fn running(handle: JoinHandle<Result<T>>) -> Self {
        ResponseFuture { state: State::Running(handle) }
    }
}

impl<T> Future for ResponseFuture<T> {
    type Output = Result<T>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let output = match &mut self.state {
            State::Failed(error) => Poll::Ready(Err(error.take().unwrap_or_else(polled_after_completion))),
            State::Done => Poll::Ready(Err(polled_after_completion())),
            State::Running(handle) => Pin::new(handle).poll(cx).map(|joined| match joined {
                Ok(result) => result,
                Err(err) if err.is_cancelled() => {
                    Err(Error::runtime("the SDK's I/O runtime shut down before the request finished"))
                }
                Err(_) => Err(Error::runtime(
                    "the request's task panicked in the SDK's I/O runtime; this is a bug, please report it",
                )),
            }),
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
            State::Running(_) => "ResponseFuture(running)",
            State::Done => "ResponseFuture(done)",
        })
    }
}
