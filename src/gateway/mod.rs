//! The gateway: its shared state, and the operations agents reach it through (the
//! meta-tools), each judged by the policy.
//!
//! One [`Gateway`] is shared by every client (stdio has one; HTTP has many). It holds the
//! current policy snapshot and server set behind `ArcSwap`s, so that a reload swaps them
//! without locks. A call loads both once, when it starts ([`call::Call`]), and every decision
//! it makes (limits, the policy decision, metrics keys, audit) uses that load: a reload during
//! the call changes nothing for it.
//!
//! The front ends (stdio, HTTP) speak the protocol; they describe each request's caller as
//! a [`Caller`] and hand tool calls to [`Gateway::call_tool`].

pub mod call;
pub mod caller;
mod complete;
pub mod direct;
mod execute_tool;
pub mod expose;
pub mod fan_out;
mod get_gateway_status;
mod get_prompt;
mod get_server_tools;
pub mod identity;
pub mod instructions;
pub mod links;
mod list_servers;
pub mod lists;
pub mod namespace;
pub mod offered;
pub mod operation;
pub mod params;
pub mod parked;
pub mod pins;
mod read_resource;
pub mod reply;
pub mod seal;
mod search_tools;
pub mod servers;
pub mod state;
pub mod subscriptions;
mod task_ops;
pub mod tasks;

pub use caller::Caller;
pub use identity::Identity;
pub use operation::Operation;
pub use servers::ServerSet;
pub use state::{Gateway, GatewayParts, GatewaySettings};
