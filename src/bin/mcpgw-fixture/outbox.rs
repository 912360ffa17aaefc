//! The only writer of stdout in stdio mode.
//!
//! The `garbage` faults must put a raw line *between* JSON-RPC messages, never inside one. So
//! the transport does not write to stdout itself: it hands whole frames to [`OutboxWriter`],
//! which queues them, and one task writes the queue in order. A raw line queued by a tool
//! therefore always lands on a frame boundary.

use std::{
    io,
    pin::Pin,
    task::{Context, Poll},
};

use tokio::{
    io::{AsyncWrite, AsyncWriteExt as _},
    sync::{mpsc, oneshot},
};

enum Chunk {
    Bytes(Vec<u8>),
    Flush(oneshot::Sender<()>),
}

/// A handle to the stdout writer task.
#[derive(Clone)]
pub struct Outbox {
    tx: mpsc::UnboundedSender<Chunk>,
}

impl Outbox {
    /// Starts the task that owns `stdout`.
    pub fn spawn<W: AsyncWrite + Unpin + Send + 'static>(stdout: W) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(pump(stdout, rx));
        Self { tx }
    }

    /// An `AsyncWrite` for rmcp's transport. Each `poll_write` takes the whole buffer at once,
    /// and rmcp's framed writer flushes one encoded message per send, so a message is never
    /// split across chunks.
    pub fn writer(&self) -> OutboxWriter {
        OutboxWriter { tx: self.tx.clone() }
    }

    /// Queues `line` (a newline is added) as raw bytes, outside any JSON-RPC frame.
    pub fn raw_line(&self, line: &str) {
        let _ = self.tx.send(Chunk::Bytes(format!("{line}\n").into_bytes()));
    }

    /// Waits until everything queued so far has been written (or the writer has died).
    pub async fn flush(&self) {
        let (ack, done) = oneshot::channel();
        if self.tx.send(Chunk::Flush(ack)).is_ok() {
            let _ = done.await;
        }
    }
}

/// Writes chunks in order; stops at the first error (the reader has gone away).
async fn pump<W: AsyncWrite + Unpin>(mut stdout: W, mut rx: mpsc::UnboundedReceiver<Chunk>) {
    while let Some(chunk) = rx.recv().await {
        match chunk {
            Chunk::Bytes(bytes) => {
                if let Err(error) = write(&mut stdout, &bytes).await {
                    tracing::debug!(%error, "stdout closed");
                    return;
                }
            }
            Chunk::Flush(ack) => {
                let _ = ack.send(());
            }
        }
    }
}

async fn write<W: AsyncWrite + Unpin>(stdout: &mut W, bytes: &[u8]) -> io::Result<()> {
    stdout.write_all(bytes).await?;
    stdout.flush().await
}

/// The transport's view of stdout: every write is queued whole and succeeds at once, until the
/// writer task has stopped.
pub struct OutboxWriter {
    tx: mpsc::UnboundedSender<Chunk>,
}

impl AsyncWrite for OutboxWriter {
    fn poll_write(self: Pin<&mut Self>, _cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match self.tx.send(Chunk::Bytes(buf.to_vec())) {
            Ok(()) => Poll::Ready(Ok(buf.len())),
            Err(_) => Poll::Ready(Err(io::ErrorKind::BrokenPipe.into())),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}
