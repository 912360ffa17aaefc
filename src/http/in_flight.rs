//! Counting the MCP requests in flight, so that a shutdown can wait for them.
//!
//! A request is in flight from the moment it arrives until its response has been sent. For
//! a tool call that is an event stream which ends right after the result, so the count falls
//! only once the caller has its result. Counting downstream calls instead would let the
//! sessions end between the handler's return and the result reaching the stream, losing it.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::Response;
use futures::StreamExt;
use tokio::sync::Notify;

/// The number of `POST`s whose responses are not yet complete.
#[derive(Default)]
pub struct InFlight {
    count: AtomicUsize,
    idle: Notify,
}

impl InFlight {
    /// Requests in flight now.
    pub fn count(&self) -> usize {
        self.count.load(Ordering::SeqCst)
    }

    /// Waits until no request is in flight, for at most `limit`. Returns whether none is.
    pub async fn drained(&self, limit: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let idle = self.idle.notified();
            if self.count() == 0 {
                return true;
            }
            if tokio::time::timeout_at(deadline, idle).await.is_err() {
                return self.count() == 0;
            }
        }
    }
}

/// Holds one count until dropped.
struct Ticket(Arc<InFlight>);

impl Ticket {
    fn new(counter: Arc<InFlight>) -> Self {
        counter.count.fetch_add(1, Ordering::SeqCst);
        Ticket(counter)
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        if self.0.count.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

/// Middleware: counts each `POST` until its response (an event stream included) is done.
pub async fn track(State(counter): State<Arc<InFlight>>, req: Request, next: Next) -> Response {
    if req.method() != Method::POST {
        return next.run(req).await;
    }
    let ticket = Ticket::new(counter);
    let response = next.run(req).await;
    let streaming = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("text/event-stream"));
    if !streaming {
        // The whole body is already there.
        return response;
    }
    let (parts, body) = response.into_parts();
    let stream = body.into_data_stream().map(move |chunk| {
        let _held = &ticket;
        chunk
    });
    Response::from_parts(parts, Body::from_stream(stream))
}
