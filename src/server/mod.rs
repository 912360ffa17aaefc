//! The MCP server side of the gateway: what any client, of any revision, over any transport,
//! gets from it.
//!
//! A front end (stdio, HTTP) frames messages and knows who sent them;
//! this module answers them. [`client::ClientState`] is one client of the 2025 revisions (a
//! stdio connection, an HTTP session): its negotiated revision and capabilities, its log
//! level, its requests in flight, and the requests the gateway sent it. A 2026-07-28 request
//! carries all of that in its own `_meta` and needs no state. [`dispatch::handle`] answers one
//! request.

pub mod client;
pub mod dispatch;
pub mod listen;

pub use client::ClientState;
pub use dispatch::{Request, handle};
