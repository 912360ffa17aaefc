//! The one wording of each mistake the typed reader finds, whichever front end it reads for.

use std::fmt;

use crate::located::line_index::is_unsafe_to_print;
use crate::located::suggest::did_you_mean;

/// A mistake in the shape of a JSON document, worded the same in every front end.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Mistake {
    /// A key that the object may not hold.
    #[error("unknown field `{}`, expected {}", Shown(.key), OneOf(.allowed))]
    UnknownField { key: String, allowed: Vec<String> },
    /// A key that the object does not know and skips (files shared with other tools).
    #[error("unknown field `{}` is ignored, expected {}", Shown(.key), OneOf(.allowed))]
    IgnoredField { key: String, allowed: Vec<String> },
    /// A key that the object must hold.
    #[error("missing field `{field}`")]
    MissingField { field: String },
    /// A value of the wrong JSON type.
    #[error("expected {expected}, found {found}")]
    WrongType { expected: String, found: &'static str },
    /// A value of the right type that is not one of the values allowed there.
    #[error("expected {}, found `{}`", OneOf(.allowed), Shown(.found))]
    NotOneOf { found: String, allowed: Vec<String> },
    /// A value of the right type outside the values allowed there.
    #[error("expected {expected}, found `{}`", Shown(.found))]
    OutOfRange { expected: String, found: String },
}

impl Mistake {
    /// A "did you mean" hint for a misspelt key or value.
    pub(crate) fn hint(&self) -> Option<String> {
        match self {
            Mistake::UnknownField { key: word, allowed }
            | Mistake::IgnoredField { key: word, allowed }
            | Mistake::NotOneOf { found: word, allowed } => did_you_mean(word, allowed.iter().map(String::as_str)),
            _ => None,
        }
    }
}

/// `one of `a`, `b`, `c``: the keys or values allowed where a mistake was made.
pub(super) struct OneOf<'a, S>(pub &'a [S]);

impl<S: AsRef<str>> fmt::Display for OneOf<'_, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("one of ")?;
        for (i, item) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "`{}`", item.as_ref())?;
        }
        Ok(())
    }
}

/// How many characters of a key or value a message quotes.
const SHOWN_CHARS: usize = 80;

/// User input as a message quotes it: cut after [`SHOWN_CHARS`] characters, with terminal
/// controls and direction overrides replaced by `?`, since a message is printed as it is.
struct Shown<'a>(&'a str);

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in self.0.chars().take(SHOWN_CHARS) {
            write!(f, "{}", if is_unsafe_to_print(c) { '?' } else { c })?;
        }
        if self.0.chars().nth(SHOWN_CHARS).is_some() {
            f.write_str("…")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn each_mistake_has_one_wording() {
        let unknown = Mistake::UnknownField { key: "alow".into(), allowed: list(&["allow", "deny"]) };
        assert_eq!(unknown.to_string(), "unknown field `alow`, expected one of `allow`, `deny`");
        assert_eq!(unknown.hint().as_deref(), Some("did you mean `allow`?"));
        let ignored = Mistake::IgnoredField { key: "comand".into(), allowed: list(&["command"]) };
        assert_eq!(ignored.to_string(), "unknown field `comand` is ignored, expected one of `command`");
        assert_eq!(ignored.hint().as_deref(), Some("did you mean `command`?"));
        assert_eq!(Mistake::MissingField { field: "server".into() }.to_string(), "missing field `server`");
        let wrong = Mistake::WrongType { expected: "a string".into(), found: "a number" };
        assert_eq!(wrong.to_string(), "expected a string, found a number");
        let value = Mistake::NotOneOf { found: "permit".into(), allowed: list(&["allow", "deny"]) };
        assert_eq!(value.to_string(), "expected one of `allow`, `deny`, found `permit`");
        assert_eq!(value.hint(), None);
        let range = Mistake::OutOfRange { expected: "a whole number from 1 to 9".into(), found: "0".into() };
        assert_eq!(range.to_string(), "expected a whole number from 1 to 9, found `0`");
    }

    #[test]
    fn quoted_input_is_cut_and_safe_to_print() {
        let key = format!("a\u{1b}[2J\u{202e}{}", "x".repeat(100));
        let text = Mistake::UnknownField { key, allowed: list(&["b"]) }.to_string();
        assert!(text.starts_with("unknown field `a?[2J?xxx"), "{text}");
        assert!(text.contains("x…`, expected"), "{text}");
        assert!(!text.contains('\u{1b}'));
    }
}
