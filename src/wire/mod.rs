//! JSON-RPC 2.0 on the wire, as bytes.
//!
//! The gateway forwards most of what it receives: a tool call's result, a server's request
//! for input, a progress notification. Parsing those into typed trees and printing them again
//! costs most of a forwarded call's CPU and drops every field the types do not know (vendor
//! keys, `_meta` on content, fields of newer protocol revisions). So messages stay bytes:
//! [`envelope`] finds the parts of a message (id, method, params, result, error) as borrowed
//! slices, [`build`] writes new messages around forwarded slices, and [`lines`] frames them
//! over a byte stream with a size cap that never hangs.

pub mod build;
pub mod envelope;
pub mod head;
pub mod lines;
pub mod object;
pub mod sink;

pub use envelope::{Message, RpcError, parse};
pub use sink::{Outgoing, Sink, SinkError};

/// The default cap on one message: well above the 64 MiB that must pass.
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 128 * 1024 * 1024;
