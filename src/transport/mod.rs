//! Transports shared by the upstream server and the downstream clients.

pub mod lines;

pub use lines::LineTransport;

/// The default cap on one message: well above the 64 MiB that must pass.
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 128 * 1024 * 1024;
