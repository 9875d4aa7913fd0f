//! Shard iterators: where a reader stands in a shard, handed to the client as an opaque token
//! it cannot forge. A token carries the stream's id, the shard, the next record's place and
//! when it was issued, and a tag (SHA-256 over the server's secret and those fields) that
//! proves Sluice made it.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest as _, Sha256};

/// How long an iterator may be used after it was issued (AWS: five minutes).
pub const LIFETIME_MS: i64 = 5 * 60 * 1000;

const FIELDS: usize = 8 + 4 + 8 + 8;
const TAG: usize = 16;

/// A decoded shard iterator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    pub stream: i64,
    pub shard: u32,
    /// The place of the next record to read.
    pub from_seq: u64,
    pub issued_ms: i64,
}

fn tag(secret: &[u8; 32], fields: &[u8]) -> [u8; TAG] {
    let digest = Sha256::new()
        .chain_update(secret)
        .chain_update(fields)
        .finalize();
    let mut tag = [0; TAG];
    tag.copy_from_slice(&digest[..TAG]);
    tag
}

/// The token for `position`.
pub fn encode(secret: &[u8; 32], position: Position) -> String {
    let mut bytes = Vec::with_capacity(FIELDS + TAG);
    bytes.extend_from_slice(&position.stream.to_be_bytes());
    bytes.extend_from_slice(&position.shard.to_be_bytes());
    bytes.extend_from_slice(&position.from_seq.to_be_bytes());
    bytes.extend_from_slice(&position.issued_ms.to_be_bytes());
    let tag = tag(secret, &bytes);
    bytes.extend_from_slice(&tag);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The position a token stands for, or `None` when the token is not one Sluice made.
pub fn decode(secret: &[u8; 32], token: &str) -> Option<Position> {
    if token.len() > 64 {
        return None;
    }
    let bytes = URL_SAFE_NO_PAD.decode(token).ok()?;
    if bytes.len() != FIELDS + TAG {
        return None;
    }
    let (fields, given) = bytes.split_at(FIELDS);
    // Compare without an early exit: the time taken says nothing about the right tag.
    let expected = tag(secret, fields);
    if expected
        .iter()
        .zip(given)
        .fold(0u8, |acc, (a, b)| acc | (a ^ b))
        != 0
    {
        return None;
    }
    let field = |at: usize| -> [u8; 8] { fields[at..at + 8].try_into().unwrap_or_default() };
    Some(Position {
        stream: i64::from_be_bytes(field(0)),
        shard: u32::from_be_bytes(fields[8..12].try_into().ok()?),
        from_seq: u64::from_be_bytes(field(12)),
        issued_ms: i64::from_be_bytes(field(20)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SECRET: [u8; 32] = [7; 32];

    proptest! {
        #[test]
        fn tokens_read_back(stream: i64, shard: u32, from_seq: u64, issued_ms: i64) {
            let position = Position { stream, shard, from_seq, issued_ms };
            prop_assert_eq!(decode(&SECRET, &encode(&SECRET, position)), Some(position));
        }

        #[test]
        fn any_other_text_is_refused(token in ".{0,100}") {
            let _ = decode(&SECRET, &token);
        }
    }

    #[test]
    fn forged_and_foreign_tokens_are_refused() {
        let position = Position {
            stream: 1,
            shard: 0,
            from_seq: 42,
            issued_ms: 1000,
        };
        let token = encode(&SECRET, position);
        assert_eq!(decode(&[8; 32], &token), None);
        let mut bytes = URL_SAFE_NO_PAD.decode(&token).unwrap();
        bytes[15] ^= 1;
        assert_eq!(decode(&SECRET, &URL_SAFE_NO_PAD.encode(&bytes)), None);
        assert_eq!(decode(&SECRET, "AAAA"), None);
        assert_eq!(decode(&SECRET, &"A".repeat(10_000)), None);
    }
}
