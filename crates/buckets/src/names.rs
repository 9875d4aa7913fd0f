//! Which bucket names and object keys S3 accepts (general purpose buckets).

/// Why S3 refuses a bucket name, or `None` if it accepts it.
pub fn bucket_name_error(name: &str) -> Option<&'static str> {
    if !(3..=63).contains(&name.len()) {
        return Some("Bucket names must be between 3 (min) and 63 (max) characters long.");
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
    {
        return Some(
            "Bucket names can consist only of lowercase letters, numbers, periods (.), and hyphens (-).",
        );
    }
    let edge = |b: Option<u8>| b.is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    if !edge(name.bytes().next()) || !edge(name.bytes().last()) {
        return Some("Bucket names must begin and end with a letter or number.");
    }
    if name.contains("..") {
        return Some("Bucket names must not contain two adjacent periods.");
    }
    if name.parse::<std::net::Ipv4Addr>().is_ok() {
        return Some("Bucket names must not be formatted as an IP address.");
    }
    if ["xn--", "sthree-", "amzn-s3-demo-"]
        .iter()
        .any(|p| name.starts_with(p))
    {
        return Some("Bucket names must not start with a reserved prefix.");
    }
    if ["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"]
        .iter()
        .any(|s| name.ends_with(s))
    {
        return Some("Bucket names must not end with a reserved suffix.");
    }
    None
}

/// The longest key S3 accepts, in bytes of UTF-8.
pub const MAX_KEY_BYTES: usize = 1024;

/// Why S3 refuses an object key, or `None`: 1 to 1,024 bytes of UTF-8 (a `&str` already is).
pub fn key_error(key: &str) -> Option<&'static str> {
    if key.is_empty() {
        return Some("Object keys must not be empty.");
    }
    if key.len() > MAX_KEY_BYTES {
        return Some("Your key is too long");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aws_naming_rules() {
        for good in ["abc", "my-bucket.logs", "a1b", "000", &"a".repeat(63)] {
            assert_eq!(bucket_name_error(good), None, "{good}");
        }
        for bad in [
            "ab",
            &"a".repeat(64),
            "My-Bucket",
            "under_score",
            "-abc",
            "abc.",
            "a..b",
            "192.168.5.4",
            "xn--abc",
            "abc-s3alias",
            "abc--ol-s3",
        ] {
            assert!(bucket_name_error(bad).is_some(), "{bad}");
        }
        assert!(key_error("").is_some());
        assert!(key_error(&"k".repeat(1025)).is_some());
        assert_eq!(
            key_error("../../etc/passwd"),
            None,
            "a key is a name, never a path"
        );
    }
}
