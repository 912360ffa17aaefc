//! Newline-delimited messages over a byte stream: a reader with a size cap that never hangs,
//! and a writer task with a bounded queue.
//!
//! The reader keeps the start of a line over the cap and reports its real size, so that the
//! request (or response) it held can still be answered by its id instead of waiting forever.
//! The writer owns the stream: every message goes out whole, in the order it was queued, and
//! a full queue makes senders wait, which is how a peer that stops reading slows down the
//! work that produces its messages instead of growing the gateway's memory.

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader, BufWriter};
use tokio_util::sync::CancellationToken;

use crate::wire::sink::Sink;

/// How much of an oversized line is kept to find its `id`.
pub const HEAD_BYTES: usize = 64 * 1024;

/// One framed unit of input.
#[derive(Debug)]
pub enum Frame {
    /// A whole line: its line break, a trailing carriage return and a leading byte order mark
    /// taken off.
    Line(Vec<u8>),
    /// A line over the cap: its first [`HEAD_BYTES`] and its whole size (without the break).
    Oversized {
        /// The start of the line.
        head: Vec<u8>,
        /// The size of the whole line.
        size: usize,
    },
}

/// Reads lines of at most `max` bytes.
pub struct LineReader<R> {
    read: BufReader<R>,
    line: Vec<u8>,
    /// The head and size so far of an oversized line being skipped.
    oversized: Option<(Vec<u8>, usize)>,
    max: usize,
}

impl<R: AsyncRead + Unpin> LineReader<R> {
    /// A reader of lines of at most `max` bytes.
    pub fn new(read: R, max: usize) -> Self {
        LineReader { read: BufReader::with_capacity(64 * 1024, read), line: Vec::new(), oversized: None, max }
    }

    /// The next non-blank frame, or `None` at the end of the stream (or on a read error).
    ///
    /// Cancel-safe: bytes move from the reader's buffer into the line with no await in
    /// between, so a cancelled call resumes the same line the next time.
    pub async fn next(&mut self) -> Option<Frame> {
        loop {
            let buf = match self.read.fill_buf().await {
                Ok(buf) if !buf.is_empty() => buf,
                Ok(_) | Err(_) => return self.finish(),
            };
            let newline = memchr::memchr(b'\n', buf);
            let take = newline.map_or(buf.len(), |i| i + 1);
            if let Some((head, size)) = self.oversized.as_mut() {
                let room = HEAD_BYTES.saturating_sub(head.len()).min(take);
                head.extend_from_slice(&buf[..room]);
                *size += take;
            } else if self.line.len() + take > self.max.saturating_add(2) {
                let mut head = std::mem::take(&mut self.line);
                let size = head.len() + take;
                head.truncate(HEAD_BYTES);
                let room = HEAD_BYTES.saturating_sub(head.len()).min(take);
                head.extend_from_slice(&buf[..room]);
                self.oversized = Some((head, size));
            } else {
                self.line.extend_from_slice(&buf[..take]);
            }
            self.read.consume(take);
            if newline.is_none() {
                continue;
            }
            if let Some((head, size)) = self.oversized.take() {
                return Some(Frame::Oversized { head, size: size.saturating_sub(1) });
            }
            let line = std::mem::take(&mut self.line);
            let text = trim_line(&line);
            if text.iter().all(u8::is_ascii_whitespace) {
                self.line = line;
                self.line.clear();
                continue;
            }
            if text.len() > self.max {
                return Some(Frame::Oversized { size: text.len(), head: text[..text.len().min(HEAD_BYTES)].to_vec() });
            }
            return Some(Frame::Line(strip(line)));
        }
    }

    /// The end of the stream: a last line without a line break still counts.
    fn finish(&mut self) -> Option<Frame> {
        if let Some((head, size)) = self.oversized.take() {
            return Some(Frame::Oversized { head, size });
        }
        let line = std::mem::take(&mut self.line);
        (!trim_line(&line).iter().all(u8::is_ascii_whitespace)).then(|| Frame::Line(strip(line)))
    }
}

/// Strips the line break, a carriage return and a UTF-8 byte order mark.
fn trim_line(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line)
}

/// [`trim_line`] in place, keeping the allocation.
fn strip(mut line: Vec<u8>) -> Vec<u8> {
    let trimmed = trim_line(&line);
    let (start, len) = (trimmed.as_ptr() as usize - line.as_ptr() as usize, trimmed.len());
    line.truncate(start + len);
    line.drain(..start);
    line
}

/// Starts a task that writes each message queued on the returned sink followed by a line
/// break, flushing whenever the queue is empty. The task stops once every clone of the sink
/// is gone (after writing what was queued) or when the stream fails; `closed` is cancelled
/// then.
pub fn spawn_writer<W>(write: W, queue: usize, closed: CancellationToken) -> Sink
where
    W: AsyncWrite + Unpin + Send + 'static,
{
    let (tx, mut rx) = Sink::channel(queue);
    tokio::spawn(async move {
        let _closed = closed.drop_guard();
        let mut out = BufWriter::with_capacity(64 * 1024, write);
        while let Some(first) = rx.recv().await {
            let mut next = Some(first);
            while let Some(message) = next.take().or_else(|| rx.try_recv().ok()) {
                if out.write_all(&message.bytes).await.is_err() || out.write_all(b"\n").await.is_err() {
                    return;
                }
            }
            if out.flush().await.is_err() {
                return;
            }
        }
        let _ = out.shutdown().await;
    });
    tx
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn frames(input: &[u8], max: usize) -> Vec<Frame> {
        let mut r = LineReader::new(input, max);
        let mut out = Vec::new();
        while let Some(f) = r.next().await {
            out.push(f);
        }
        out
    }

    #[tokio::test]
    async fn frames_lines_and_reports_the_real_size_of_long_ones() {
        let mut input = b"\xEF\xBB\xBF{\"a\":1}\r\n\n   \n".to_vec();
        input.extend(std::iter::repeat_n(b'x', 200_000));
        input.extend_from_slice(b"\nlast");
        let got = frames(&input, 1000).await;
        assert!(matches!(&got[0], Frame::Line(l) if l == b"{\"a\":1}"));
        assert!(matches!(&got[1], Frame::Oversized { head, size: 200_000 } if head.len() == HEAD_BYTES));
        assert!(matches!(&got[2], Frame::Line(l) if l == b"last"));
        assert_eq!(got.len(), 3);
        let exact = frames(b"0123456789\n01234567890\n", 10).await;
        assert!(matches!(&exact[0], Frame::Line(l) if l.len() == 10));
        assert!(matches!(&exact[1], Frame::Oversized { size: 11, .. }));
    }

    #[tokio::test]
    async fn the_writer_keeps_order_and_frames_each_message() {
        let (client, mut server) = tokio::io::duplex(64);
        let closed = CancellationToken::new();
        let tx = spawn_writer(client, 4, closed.clone());
        let reader = tokio::spawn(async move {
            let mut all = String::new();
            tokio::io::AsyncReadExt::read_to_string(&mut server, &mut all).await.unwrap();
            all
        });
        for i in 0..100 {
            tx.send(format!("m{i}").into_bytes()).await.unwrap();
        }
        drop(tx);
        let all = reader.await.unwrap();
        let expected: String = (0..100).map(|i| format!("m{i}\n")).collect();
        assert_eq!(all, expected);
        closed.cancelled().await;
    }
}
