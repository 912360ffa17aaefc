//! Serving over stdio, with a transport built by hand for two reasons: the line cap must be far
//! above rmcp's 16 MiB default (bigger lines are dropped silently and the call hangs), and all
//! output has to go through the [`Outbox`] so raw garbage lines never split a message.

use std::{error::Error, sync::Arc};

use rmcp::{ServiceExt as _, transport::async_rw::AsyncRwTransport};

use crate::{cli::Options, event_log::EventLog, outbox::Outbox, server::Fixture, startup, state::State};

/// The largest incoming message accepted: 1 GiB, so 100+ MiB arguments pass.
pub const MAX_LINE_BYTES: usize = 1 << 30;

/// Serves one client on stdin/stdout until stdin closes.
pub async fn serve(options: &Options, log: EventLog) -> Result<(), Box<dyn Error>> {
    // `stdio_pipes` reads through the reactor when stdin is a pipe, so EOF or shutdown is never
    // stuck behind a blocking read.
    let (stdin, stdout) = rmcp::transport::stdio_pipes();
    let outbox = Outbox::spawn(stdout);
    let state = Arc::new(State::new(options, log, Some(outbox.clone())));
    startup::apply(options.startup, &state).await;
    let transport = AsyncRwTransport::new_server(stdin, outbox.writer()).with_max_line_length(MAX_LINE_BYTES);
    let running = Fixture::new(state).serve(transport).await?;
    running.waiting().await?;
    outbox.flush().await;
    Ok(())
}
