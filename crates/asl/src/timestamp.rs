//! Timestamps as the States language accepts them: RFC 3339 with an uppercase `T` between date
//! and time and an uppercase `Z` when no numeric offset is given.

use chrono::{DateTime, FixedOffset};

/// Parses an ASL timestamp, or `None` if it breaks the profile.
pub fn parse(text: &str) -> Option<DateTime<FixedOffset>> {
    let bytes = text.as_bytes();
    if bytes.len() < 20 || bytes[10] != b'T' || text.ends_with('z') {
        return None;
    }
    DateTime::parse_from_rfc3339(text).ok()
}
