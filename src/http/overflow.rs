//! Connections past the cap: answered at once and closed, so that a flood of slow or idle
//! connections holds no more than the cap, and a liveness probe still learns that the
//! process is up (`GET /health` gets 200; anything else gets 503).

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;

/// Connections past the cap answered at once; beyond these, they are closed unanswered.
pub const MAX_OVERFLOW: usize = 256;
/// How long an overflow connection may take to send its request line.
const READ_LIMIT: Duration = Duration::from_secs(2);

const HEALTHY: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 15\r\nconnection: close\r\n\r\n{\"status\":\"ok\"}";
const BUSY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain\r\ncontent-length: 41\r\nconnection: close\r\nretry-after: 1\r\n\r\nService Unavailable: too many connections";

/// Answers a connection past the cap, in a task of its own (if one is free).
pub fn answer(mut tcp: TcpStream, slots: &std::sync::Arc<Semaphore>) {
    let Ok(slot) = slots.clone().try_acquire_owned() else { return };
    tokio::spawn(async move {
        let mut head = [0u8; 64];
        let mut n = 0;
        let read = tokio::time::timeout(READ_LIMIT, async {
            while n < head.len() && !head[..n].contains(&b'\n') {
                match tcp.read(&mut head[n..]).await {
                    Ok(0) | Err(_) => break,
                    Ok(k) => n += k,
                }
            }
        })
        .await;
        let health = read.is_ok() && head[..n].starts_with(b"GET /health ");
        let _ = tcp.write_all(if health { HEALTHY } else { BUSY }).await;
        let _ = tcp.shutdown().await;
        drop(slot);
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_canned_answers_are_well_formed() {
        for answer in [HEALTHY, BUSY] {
            let text = std::str::from_utf8(answer).unwrap();
            let (head, body) = text.split_once("\r\n\r\n").unwrap();
            let length: usize = head.lines().find_map(|l| l.strip_prefix("content-length: ")).unwrap().parse().unwrap();
            assert_eq!(length, body.len(), "{head}");
        }
    }
}
