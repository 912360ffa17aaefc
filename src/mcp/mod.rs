//! What the Model Context Protocol says, independent of what the gateway does with it:
//! the revisions and their eras, the `_meta` keys, capabilities, error codes, and how a
//! result is shaped for a caller of a given revision.
//!
//! MCP has two eras. Up to 2025-11-25 a connection starts with `initialize` and keeps the
//! negotiated revision and capabilities for its life (a session). From 2026-07-28 there is no
//! handshake: every request carries its revision, client info and capabilities in `_meta`,
//! and the server may answer any request on any replica.

pub mod caps;
pub mod codes;
pub mod meta;
pub mod scan;
pub mod shape;
pub mod version;

pub use caps::ClientCaps;
pub use meta::RequestMeta;
pub use version::Version;
