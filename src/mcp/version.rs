//! Protocol revisions.

use std::fmt;

/// A protocol revision the gateway speaks, oldest first (so `<` means older).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Version {
    /// 2024-11-05, the first revision.
    V2024_11_05,
    /// 2025-03-26: streamable HTTP, annotations.
    V2025_03_26,
    /// 2025-06-18: structured content, elicitation, the protocol version header.
    V2025_06_18,
    /// 2025-11-25: tasks, URL elicitation, sampling with tools, icons.
    V2025_11_25,
    /// 2026-07-28: stateless, `server/discover`, per-request `_meta`, input rounds.
    V2026_07_28,
}

impl Version {
    /// Every revision, oldest first.
    pub const ALL: [Version; 5] =
        [Version::V2024_11_05, Version::V2025_03_26, Version::V2025_06_18, Version::V2025_11_25, Version::V2026_07_28];
    /// The newest revision.
    pub const LATEST: Version = Version::V2026_07_28;
    /// The newest revision that still opens with `initialize`.
    pub const LATEST_LEGACY: Version = Version::V2025_11_25;

    /// The revision named `s`, if the gateway knows it.
    pub fn parse(s: &str) -> Option<Version> {
        Version::ALL.into_iter().find(|v| v.as_str() == s)
    }

    /// The revision's date string.
    pub fn as_str(self) -> &'static str {
        match self {
            Version::V2024_11_05 => "2024-11-05",
            Version::V2025_03_26 => "2025-03-26",
            Version::V2025_06_18 => "2025-06-18",
            Version::V2025_11_25 => "2025-11-25",
            Version::V2026_07_28 => "2026-07-28",
        }
    }

    /// Whether the revision opens a connection with `initialize` (the legacy era).
    pub fn has_initialize(self) -> bool {
        self < Version::V2026_07_28
    }

    /// The revision to answer an `initialize` that asked for `requested`: the same one when
    /// the gateway knows it and it has a handshake, else the newest with a handshake (the
    /// client then decides whether it can speak it).
    pub fn negotiate_initialize(requested: &str) -> Version {
        match Version::parse(requested) {
            Some(v) if v.has_initialize() => v,
            _ => Version::LATEST_LEGACY,
        }
    }

    /// Whether results carry `resultType` and lists carry cache hints.
    pub fn has_result_type(self) -> bool {
        self >= Version::V2026_07_28
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eras_and_negotiation() {
        assert!(Version::V2025_11_25.has_initialize());
        assert!(!Version::V2026_07_28.has_initialize());
        assert_eq!(Version::negotiate_initialize("2025-03-26"), Version::V2025_03_26);
        assert_eq!(Version::negotiate_initialize("2026-07-28"), Version::V2025_11_25);
        assert_eq!(Version::negotiate_initialize("1999-01-01"), Version::V2025_11_25);
        assert_eq!(Version::parse("2026-07-28"), Some(Version::LATEST));
        assert!(Version::V2024_11_05 < Version::V2025_03_26);
    }
}
