//! The arithmetic of a stream, pure: shards' hash-key ranges, where a record goes, and the
//! sequence numbers clients see.

use md5::{Digest as _, Md5};

/// The hash-key ranges of `count` new shards, as AWS splits the 128-bit space: shard `i`
/// starts at `i * floor(2^128 / count)`, the last one ends at `2^128 - 1`.
pub fn even_ranges(count: u32) -> Vec<(u128, u128)> {
    if count <= 1 {
        return vec![(0, u128::MAX)];
    }
    let count = u128::from(count);
    // floor(2^128 / count) without 2^128: one more than floor((2^128 - 1) / count) exactly
    // when count divides 2^128.
    let width = if u128::MAX % count == count - 1 {
        u128::MAX / count + 1
    } else {
        u128::MAX / count
    };
    (0..count)
        .map(|i| {
            let start = i * width;
            let end = if i == count - 1 {
                u128::MAX
            } else {
                start + width - 1
            };
            (start, end)
        })
        .collect()
}

/// A partition key's place in the hash-key space: its MD5 as a big-endian 128-bit number.
pub fn hash_of(partition_key: &str) -> u128 {
    u128::from_be_bytes(Md5::digest(partition_key.as_bytes()).into())
}

/// An `ExplicitHashKey` (decimal, at most 2^128 - 1), or `None` when it is not one.
pub fn parse_hash_key(text: &str) -> Option<u128> {
    if text.is_empty() || text.len() > 39 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse::<u128>().ok()
}

/// Digits of a sequence number: `49`, the record's place in its stream (30 digits), its
/// shard's index (24 digits): 56 digits like AWS's, increasing with the place, and naming
/// the shard they belong to.
pub fn sequence_number(seq: u64, shard: u32) -> String {
    format!("49{seq:030}{shard:024}")
}

/// A sequence number's place and shard, or `None` when it is not one of Sluice's.
pub fn parse_sequence_number(text: &str) -> Option<(u64, u32)> {
    if text.len() != 56 || !text.starts_with("49") || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let seq = text[2..32].parse::<u64>().ok()?;
    let shard = text[32..].parse::<u32>().ok()?;
    Some((seq, shard))
}

/// `shardId-000000000007`.
pub fn shard_id(index: u32) -> String {
    format!("shardId-{index:012}")
}

/// A shard id's index, or `None` when it is not `shardId-` and digits.
pub fn parse_shard_id(text: &str) -> Option<u32> {
    let digits = text.strip_prefix("shardId-")?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ranges_split_the_space_as_aws_does() {
        // AWS's documented ranges for two and three shards.
        assert_eq!(
            even_ranges(2),
            vec![
                (0, 170141183460469231731687303715884105727),
                (170141183460469231731687303715884105728, u128::MAX)
            ]
        );
        assert_eq!(
            even_ranges(3),
            vec![
                (0, 113427455640312821154458202477256070484),
                (
                    113427455640312821154458202477256070485,
                    226854911280625642308916404954512140969
                ),
                (226854911280625642308916404954512140970, u128::MAX)
            ]
        );
        assert_eq!(even_ranges(1), vec![(0, u128::MAX)]);
    }

    proptest! {
        #[test]
        fn ranges_cover_the_space_without_gaps(count in 1u32..=2000) {
            let ranges = even_ranges(count);
            prop_assert_eq!(ranges.len(), count as usize);
            prop_assert_eq!(ranges[0].0, 0);
            prop_assert_eq!(ranges.last().unwrap().1, u128::MAX);
            for pair in ranges.windows(2) {
                prop_assert_eq!(pair[0].1 + 1, pair[1].0);
            }
        }

        #[test]
        fn sequence_numbers_read_back_and_sort_by_place(a in 0u64..(1 << 63), b in 0u64..(1 << 63), s in 0u32..100_000) {
            prop_assert_eq!(parse_sequence_number(&sequence_number(a, s)), Some((a, s)));
            prop_assert_eq!(sequence_number(a, s).cmp(&sequence_number(b, s)), a.cmp(&b));
        }
    }

    #[test]
    fn partition_keys_hash_with_md5() {
        // MD5("a") = 0cc175b9c0f1b6a831c399e269772661.
        assert_eq!(hash_of("a"), 0x0cc175b9c0f1b6a831c399e269772661);
        assert_eq!(parse_hash_key("0"), Some(0));
        assert_eq!(parse_hash_key(&u128::MAX.to_string()), Some(u128::MAX));
        assert_eq!(
            parse_hash_key("340282366920938463463374607431768211456"),
            None
        );
        assert_eq!(parse_hash_key("-1"), None);
        assert_eq!(parse_hash_key(""), None);
        assert_eq!(parse_sequence_number("12"), None);
        assert_eq!(parse_shard_id("shardId-000000000003"), Some(3));
        assert_eq!(parse_shard_id("shard-3"), None);
    }
}
