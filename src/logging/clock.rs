//! Timestamps for records: RFC 3339 in UTC with milliseconds (`humantime` formats them; the
//! time itself is one `clock_gettime` through the vDSO, a few tens of nanoseconds).

use std::time::SystemTime;

/// RFC 3339 UTC with milliseconds, e.g. `2026-11-26T10:32:30.123Z`.
pub fn rfc3339(t: SystemTime) -> String {
    humantime::format_rfc3339_millis(t).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn formats_utc_timestamps() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        let t = UNIX_EPOCH + Duration::from_millis(1_795_689_150_123);
        assert_eq!(rfc3339(t), "2026-11-26T10:32:30.123Z");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400);
        assert_eq!(rfc3339(leap), "2000-02-29T00:00:00.000Z");
    }
}
