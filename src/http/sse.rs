//! A stream of messages as an HTTP response: server-sent events, one message each.
//!
//! A request's stream ends after its response; a session's own stream lasts until the client
//! closes it or the gateway stops. Comment lines keep idle streams alive through proxies that
//! close quiet connections. When the client goes away, the receiver is dropped, which the
//! producers see as a closed sink (a 2026-07-28 client cancels a request that way).

use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::wire::Outgoing;

/// How often an idle stream gets a keep-alive comment.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// The events of `rx` as an `text/event-stream` response, until the message marked `last`,
/// the end of the channel, or `stop`.
pub fn response(
    rx: mpsc::Receiver<Outgoing>,
    stop: CancellationToken,
    extra: &[(&'static str, HeaderValue)],
) -> Response {
    let stream = futures::stream::unfold((rx, stop, false), |(mut rx, stop, done)| async move {
        if done {
            return None;
        }
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + KEEP_ALIVE, KEEP_ALIVE);
        tokio::select! {
            message = rx.recv() => {
                let message = message?;
                Some((Ok::<Bytes, std::io::Error>(event(&message.bytes)), (rx, stop, message.last)))
            }
            _ = tick.tick() => Some((Ok(Bytes::from_static(b": keep-alive\n\n")), (rx, stop, false))),
            () = stop.cancelled() => None,
        }
    });
    let mut resp = (StatusCode::OK, Body::from_stream(stream)).into_response();
    let headers = resp.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    for (name, value) in extra {
        headers.insert(*name, value.clone());
    }
    resp
}

/// One message as an event.
fn event(message: &[u8]) -> Bytes {
    let mut out = Vec::with_capacity(message.len() + 24);
    out.extend_from_slice(b"event: message\ndata: ");
    // JSON from the wire module never holds a raw line break, but a server's bytes are passed
    // through: split them as SSE requires rather than trust them.
    for (i, line) in message.split(|&b| b == b'\n').enumerate() {
        if i > 0 {
            out.extend_from_slice(b"\ndata: ");
        }
        out.extend_from_slice(line.strip_suffix(b"\r").unwrap_or(line));
    }
    out.extend_from_slice(b"\n\n");
    Bytes::from(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_framed() {
        assert_eq!(&event(br#"{"a":1}"#)[..], b"event: message\ndata: {\"a\":1}\n\n");
        assert_eq!(&event(b"x\ny")[..], b"event: message\ndata: x\ndata: y\n\n");
    }
}
