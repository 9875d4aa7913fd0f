//! Timestamps as the States language accepts them: RFC 3339 with an uppercase `T` between date
//! and time and an uppercase `Z` when no numeric offset is given.
//!
//! The accepted grammar (AWS developer guide, "Choice Rules" and "Wait"):
//!
//! ```text
//! YYYY-MM-DD 'T' hh:mm:ss [ '.' 1*DIGIT ] ( 'Z' | ('+' | '-') hh:mm )
//! ```
//!
//! Every field is fixed-width ASCII digits. Lowercase `t`/`z`, a space separator, a missing
//! offset, a missing seconds field and out-of-range values (month 13, February 30, hour 24,
//! second 60, offset hour 24) are rejected. Fractional seconds may have any number of digits;
//! digits past nanoseconds are truncated.

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveTime};

/// Parses an ASL timestamp, or `None` if it breaks the profile.
pub fn parse(text: &str) -> Option<DateTime<FixedOffset>> {
    let mut cur = Cursor {
        bytes: text.as_bytes(),
        pos: 0,
    };

    let year = cur.digits(4)?;
    cur.expect(b'-')?;
    let month = cur.digits(2)?;
    cur.expect(b'-')?;
    let day = cur.digits(2)?;
    cur.expect(b'T')?;
    let hour = cur.digits(2)?;
    cur.expect(b':')?;
    let minute = cur.digits(2)?;
    cur.expect(b':')?;
    let second = cur.digits(2)?;

    let mut nanos = 0u32;
    if cur.peek() == Some(b'.') {
        cur.pos += 1;
        let mut count = 0usize;
        while let Some(d) = cur.peek().filter(u8::is_ascii_digit) {
            if count < 9 {
                nanos = nanos * 10 + u32::from(d - b'0');
            }
            count += 1;
            cur.pos += 1;
        }
        if count == 0 {
            return None;
        }
        for _ in count..9 {
            nanos *= 10;
        }
    }

    let offset_seconds = match cur.next()? {
        b'Z' => 0,
        sign @ (b'+' | b'-') => {
            let hours = cur.digits(2)?;
            cur.expect(b':')?;
            let minutes = cur.digits(2)?;
            if hours > 23 || minutes > 59 {
                return None;
            }
            let magnitude = i32::try_from(hours * 3600 + minutes * 60).ok()?;
            if sign == b'-' { -magnitude } else { magnitude }
        }
        _ => return None,
    };
    if cur.pos != cur.bytes.len() {
        return None;
    }

    let date = NaiveDate::from_ymd_opt(i32::try_from(year).ok()?, month, day)?;
    // `from_hms_nano_opt` rejects second 60 (nanos stay below one second here).
    let time = NaiveTime::from_hms_nano_opt(hour, minute, second, nanos)?;
    let offset = FixedOffset::east_opt(offset_seconds)?;
    date.and_time(time).and_local_timezone(offset).single()
}

/// Whether `text` is a timestamp of the ASL profile (the `IsTimestamp` test).
pub fn is_timestamp(text: &str) -> bool {
    parse(text).is_some()
}

struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let b = self.peek()?;
        self.pos += 1;
        Some(b)
    }

    fn expect(&mut self, wanted: u8) -> Option<()> {
        (self.next()? == wanted).then_some(())
    }

    /// Exactly `n` ASCII digits as a number.
    fn digits(&mut self, n: usize) -> Option<u32> {
        let mut value = 0u32;
        for _ in 0..n {
            let b = self.next()?;
            if !b.is_ascii_digit() {
                return None;
            }
            value = value * 10 + u32::from(b - b'0');
        }
        Some(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn utc_millis(text: &str) -> i64 {
        parse(text)
            .unwrap_or_else(|| panic!("{text} should parse"))
            .timestamp_millis()
    }

    #[test]
    fn accepts_the_profile() {
        for ok in [
            "2016-03-14T01:59:00Z",
            "2016-03-14T01:59:00+01:00",
            "2016-03-14T01:59:00-07:30",
            "2016-03-14T01:59:00-00:00",
            "2016-03-14T01:59:00.5Z",
            "2016-03-14T01:59:00.123456789Z",
            "2016-03-14T01:59:00.1234567891234+02:00",
            "2016-02-29T23:59:59Z",
            "0000-01-01T00:00:00Z",
            "9999-12-31T23:59:59.999Z",
            "2016-03-14T01:59:00+23:59",
        ] {
            assert!(parse(ok).is_some(), "{ok} should parse");
            assert!(is_timestamp(ok));
        }
    }

    #[test]
    fn rejects_everything_else() {
        for bad in [
            "",
            "2016-03-14",
            "2016-03-14T01:59:00",
            "2016-03-14t01:59:00Z",
            "2016-03-14T01:59:00z",
            "2016-03-14 01:59:00Z",
            "2016-03-14T01:59Z",
            "2016-03-14T01:59:00.Z",
            "2016-03-14T01:59:00+0100",
            "2016-03-14T01:59:00+01",
            "2016-03-14T01:59:00+24:00",
            "2016-03-14T01:59:00+01:60",
            "2016-13-14T01:59:00Z",
            "2016-00-14T01:59:00Z",
            "2016-02-30T01:59:00Z",
            "2015-02-29T01:59:00Z",
            "2016-03-00T01:59:00Z",
            "2016-03-14T24:00:00Z",
            "2016-03-14T01:60:00Z",
            "2016-03-14T01:59:60Z",
            "2016-3-14T01:59:00Z",
            "16-03-14T01:59:00Z",
            "+2016-03-14T01:59:00Z",
            " 2016-03-14T01:59:00Z",
            "2016-03-14T01:59:00Z ",
            "2016-03-14T01:59:00ZZ",
            "2016-03-14T01:59:00,5Z",
            "2016-03-14T01:59:00.5",
            "2023-02-24 12:15:56.832957",
            "2012-10-09T19:00:55",
            "２016-03-14T01:59:00Z",
            "2016-03-14T01:59:00+01:00:00",
        ] {
            assert!(parse(bad).is_none(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn offsets_denote_the_same_instant() {
        assert_eq!(
            utc_millis("2016-03-14T01:59:00Z"),
            utc_millis("2016-03-14T02:59:00+01:00")
        );
        assert_eq!(
            utc_millis("2016-03-14T01:59:00Z"),
            utc_millis("2016-03-13T18:29:00-07:30")
        );
        assert_eq!(
            utc_millis("2016-03-14T01:59:00Z"),
            utc_millis("2016-03-14T01:59:00-00:00")
        );
        assert_eq!(
            parse("2016-03-14T02:59:00+01:00")
                .unwrap()
                .offset()
                .local_minus_utc(),
            3600
        );
    }

    #[test]
    fn fractional_seconds() {
        let base = parse("2016-03-14T01:59:00Z").unwrap();
        let half = parse("2016-03-14T01:59:00.5Z").unwrap();
        assert_eq!(half.timestamp_subsec_millis(), 500);
        assert!(half > base);
        let nanos = parse("2016-03-14T01:59:00.000000001Z").unwrap();
        assert_eq!(nanos.timestamp_subsec_nanos(), 1);
        // Digits beyond nanoseconds are truncated.
        let long = parse("2016-03-14T01:59:00.0000000019999Z").unwrap();
        assert_eq!(long.timestamp_subsec_nanos(), 1);
        assert_eq!(
            parse("2016-03-14T01:59:00.50Z"),
            parse("2016-03-14T01:59:00.5Z")
        );
    }

    proptest! {
        #[test]
        fn parse_never_panics(text in ".{0,40}") {
            let _ = parse(&text);
        }

        #[test]
        fn parse_never_panics_on_near_timestamps(
            text in "[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{0,12})?(Z|z|[+-][0-9]{2}:[0-9]{2})?"
        ) {
            if let Some(t) = parse(&text) {
                prop_assert!(text.contains('T'));
                prop_assert!(!text.ends_with('z'));
                let _ = t.timestamp();
            }
        }

        #[test]
        fn valid_fields_always_parse(
            y in 0i32..=9999, mo in 1u32..=12, d in 1u32..=28, h in 0u32..=23, mi in 0u32..=59,
            s in 0u32..=59, oh in 0u32..=23, om in 0u32..=59, neg: bool,
        ) {
            let sign = if neg { '-' } else { '+' };
            let text = format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}{sign}{oh:02}:{om:02}");
            prop_assert!(parse(&text).is_some(), "{}", text);
        }
    }
}
