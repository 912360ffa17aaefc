//! Shaping a result for its caller's revision, keeping every other byte.
//!
//! A 2026-07-28 caller needs `resultType` on every result, and `ttlMs` / `cacheScope` on the
//! cacheable ones (lists and `resources/read`); an older caller must see none of them. The
//! gateway's answers depend on the calling agent's policy, so they are always
//! `cacheScope: "private"`: a shared cache that served one agent's list to another would
//! bypass the policy.

use std::borrow::Cow;

use crate::mcp::Version;
use crate::wire::object::{Members, Rewrite};

/// What kind of result is being shaped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResultKind {
    /// Any result without cache hints (a tool call, a prompt, a completion).
    Plain,
    /// A cacheable result (`*/list`, `resources/read`, `server/discover`): cache hints
    /// added for 2026-07-28 callers, taken away for older ones.
    Cacheable,
}

/// How long a cacheable answer of the gateway may be reused. Zero: the gateway's lists
/// change with reloads, which a client learns of through `list_changed`, not a clock.
pub const TTL_MS: &str = "0";

/// `result` (a raw JSON object) shaped for a caller of `caller`. A result that is not an
/// object is passed as it is (a server's bug is not the gateway's to hide).
pub fn for_caller(result: &str, caller: Version, kind: ResultKind) -> Cow<'_, str> {
    let Ok(members) = Members::parse(result) else { return Cow::Borrowed(result) };
    let cacheable = kind == ResultKind::Cacheable;
    if caller.has_result_type() {
        let has_type = members.has("resultType");
        let complete = members.get("resultType").is_none_or(|t| t.get() == "\"complete\"");
        let needs_hints = cacheable
            && complete
            && (members.get("cacheScope").is_none_or(|s| s.get() != "\"private\"") || !members.has("ttlMs"));
        if has_type && !needs_hints {
            return Cow::Borrowed(result);
        }
        let mut out = Rewrite::new(&members);
        out.set_first_if_absent("resultType", "\"complete\"");
        if needs_hints {
            if !members.has("ttlMs") {
                out.set("ttlMs", TTL_MS);
            }
            out.set("cacheScope", "\"private\"");
        }
        return Cow::Owned(out.finish());
    }
    let strip_type = members.get("resultType").is_some_and(|t| t.get() == "\"complete\"");
    let strip_hints = cacheable && (members.has("ttlMs") || members.has("cacheScope"));
    if !strip_type && !strip_hints {
        return Cow::Borrowed(result);
    }
    let mut out = Rewrite::new(&members);
    if strip_type {
        out.remove("resultType");
    }
    if strip_hints {
        out.remove("ttlMs").remove("cacheScope");
    }
    Cow::Owned(out.finish())
}

/// The value of `resultType`, when the result has one (`"complete"` when absent).
pub fn result_type(result: &str) -> Cow<'_, str> {
    #[derive(serde::Deserialize)]
    struct T<'a> {
        #[serde(rename = "resultType", borrow, default)]
        result_type: Option<Cow<'a, str>>,
    }
    serde_json::from_str::<T<'_>>(result).ok().and_then(|t| t.result_type).unwrap_or(Cow::Borrowed("complete"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NEW: Version = Version::V2026_07_28;
    const OLD: Version = Version::V2025_06_18;

    #[test]
    fn adds_for_new_callers_and_strips_for_old_ones() {
        let r = r#"{"content":[],"x":{"y":1.0}}"#;
        assert_eq!(for_caller(r, NEW, ResultKind::Plain), r#"{"resultType":"complete","content":[],"x":{"y":1.0}}"#);
        assert!(matches!(for_caller(r, OLD, ResultKind::Plain), Cow::Borrowed(_)));
        let typed = r#"{"resultType":"complete","content":[]}"#;
        assert_eq!(for_caller(typed, OLD, ResultKind::Plain), r#"{"content":[]}"#);
        assert!(matches!(for_caller(typed, NEW, ResultKind::Plain), Cow::Borrowed(_)));
        let list = r#"{"tools":[],"ttlMs":60000,"cacheScope":"public"}"#;
        assert_eq!(
            for_caller(list, NEW, ResultKind::Cacheable),
            r#"{"resultType":"complete","tools":[],"ttlMs":60000,"cacheScope":"private"}"#
        );
        assert_eq!(for_caller(list, OLD, ResultKind::Cacheable), r#"{"tools":[]}"#);
        let input = r#"{"resultType":"input_required","requestState":"s"}"#;
        assert!(matches!(for_caller(input, NEW, ResultKind::Cacheable), Cow::Borrowed(_)));
        assert_eq!(result_type(input), "input_required");
        assert_eq!(result_type(r#"{"content":[]}"#), "complete");
    }
}
