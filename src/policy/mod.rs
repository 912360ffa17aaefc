//! The policy engine: text -> AST -> validate -> compile -> decide -> explain.
//!
//! Everything here is pure: no I/O, no locks, no async, and no panics (clippy denies
//! `unwrap_used`, `expect_used` and `panic` in this module tree). The gateway loads a file,
//! hands the text to this module, and gets back either a [`DecisionTable`] or every problem
//! found, each with its location.
//!
//! ```
//! use mcpgw::policy::{DecisionTable, PolicySet, Request};
//!
//! let policy = PolicySet::from_json_str("rules.json", r#"{"agents": {"researcher": {
//!     "allow": {"servers": ["search"]}}}}"#).unwrap();
//! let table = DecisionTable::compile(&policy).unwrap();
//! let explanation = table.explain(&Request::tool(Some("researcher"), "search", "web_search"));
//! assert!(explanation.is_allowed());
//! assert_eq!(explanation.reason.as_str(), "implicit_grant");
//! ```

#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod ast;
pub(crate) mod compile;
pub mod decide;
pub mod dsl;
pub mod explain;
pub mod glob;
pub mod json;
pub mod lint;
mod snapshot;
pub mod table;
/// Test-only: compiled for unit tests and with the `testkit` feature, never into a release.
#[cfg(any(test, feature = "testkit"))]
pub mod testkit;
pub mod validate;

pub use crate::located::{Diagnostic, Diagnostics, Severity, Span};
pub use ast::{
    AgentLimits, AgentPolicy, Defaults, Effect, ItemKind, Pattern, PolicySet, RuleBlock, RuleSource, RuleView,
    ToolRules,
};
pub use decide::{Decision, Item, Reason, Request};
pub use dsl::{format_dsl_str, to_dsl_string};
pub use explain::{Explanation, RuleRef};
pub use lint::LintContext;
pub use table::{CompileOptions, DecisionTable};
pub use validate::{is_valid_agent_id, is_valid_agent_key};
