//! Where a peer's outgoing messages go: a bounded queue in front of its writer.
//!
//! Over stdio every message of a connection shares one queue (its writer task). Over HTTP a
//! request's messages go to that request's own event stream, which ends after the message
//! marked `last` (the response). Code that produces messages does not care which.

use tokio::sync::mpsc;

/// One message on its way out.
#[derive(Debug)]
pub struct Outgoing {
    /// The message, without framing.
    pub bytes: Vec<u8>,
    /// The response that ends an HTTP request's stream.
    pub last: bool,
}

/// A queue of outgoing messages. Cloning is cheap; the reader side ends when every clone is
/// gone.
#[derive(Debug, Clone)]
pub struct Sink(mpsc::Sender<Outgoing>);

/// Why a message could not be queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SinkError {
    /// The peer is gone (the stream closed).
    #[error("the peer is gone")]
    Closed,
    /// The queue is full (the peer is not reading).
    #[error("the peer is not reading its messages")]
    Full,
}

impl Sink {
    /// A sink and the receiving end of its queue, which holds at most `capacity` messages.
    pub fn channel(capacity: usize) -> (Sink, mpsc::Receiver<Outgoing>) {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        (Sink(tx), rx)
    }

    /// Queues a message, waiting for room: the producer slows down with its peer.
    pub async fn send(&self, bytes: Vec<u8>) -> Result<(), SinkError> {
        self.0.send(Outgoing { bytes, last: false }).await.map_err(|_| SinkError::Closed)
    }

    /// Queues the message that ends a request's stream (its response).
    pub async fn finish(&self, bytes: Vec<u8>) -> Result<(), SinkError> {
        self.0.send(Outgoing { bytes, last: true }).await.map_err(|_| SinkError::Closed)
    }

    /// Queues a message only if there is room now: for notifications that a slow peer may
    /// miss (progress, logs) rather than hold up the server that sends them.
    pub fn try_send(&self, bytes: Vec<u8>) -> Result<(), SinkError> {
        self.0.try_send(Outgoing { bytes, last: false }).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => SinkError::Full,
            mpsc::error::TrySendError::Closed(_) => SinkError::Closed,
        })
    }

    /// Queues a message that must not be lost without making the caller wait: at once when
    /// there is room, else from a task that waits for room (ordering with later messages is
    /// then not kept, which suits independent requests and answers).
    pub fn send_soon(&self, bytes: Vec<u8>) -> Result<(), SinkError> {
        match self.0.try_send(Outgoing { bytes, last: false }) {
            Ok(()) => Ok(()),
            Err(mpsc::error::TrySendError::Closed(_)) => Err(SinkError::Closed),
            Err(mpsc::error::TrySendError::Full(message)) => {
                let tx = self.0.clone();
                tokio::spawn(async move {
                    let _ = tx.send(message).await;
                });
                Ok(())
            }
        }
    }

    /// Whether the peer is gone.
    pub fn is_closed(&self) -> bool {
        self.0.is_closed()
    }

    /// Resolves when the peer is gone.
    pub async fn closed(&self) {
        self.0.closed().await;
    }
}
