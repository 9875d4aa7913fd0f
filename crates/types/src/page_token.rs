//! The one codec of pagination tokens (`nextToken`): a listing's cursor (any bytes the
//! listing chooses) made opaque and tamper-evident.
//!
//! `s1.<hex of the cursor>.<checksum>`: the checksum covers the cursor and the `kind` of
//! listing that issued the token, so a token edited by hand, cut short, or handed to another
//! kind of listing does not decode. It is not a security boundary (the cursor is readable),
//! only a guard against using a token for what it was not made for.

const VERSION: &str = "s1";
const HEX: &[u8; 16] = b"0123456789abcdef";

/// The longest cursor a token carries; longer tokens are refused before decoding.
pub const MAX_CURSOR_BYTES: usize = 8 * 1024;

/// A token for `cursor`, issued by a listing of `kind`.
pub fn encode(kind: &str, cursor: &[u8]) -> String {
    let mut token = String::with_capacity(VERSION.len() + 18 + 2 * cursor.len());
    token.push_str(VERSION);
    token.push('.');
    for b in cursor {
        token.push(char::from(HEX[usize::from(b >> 4)]));
        token.push(char::from(HEX[usize::from(b & 0xf)]));
    }
    token.push('.');
    let sum = checksum(kind, cursor);
    for shift in (0..16).rev() {
        token.push(char::from(HEX[((sum >> (shift * 4)) & 0xf) as usize]));
    }
    token
}

/// The cursor of a token [`encode`] made for `kind`, else `None`.
pub fn decode(kind: &str, token: &str) -> Option<Vec<u8>> {
    let mut parts = token.split('.');
    let (Some(VERSION), Some(hex), Some(sum), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    if hex.len() % 2 != 0 || hex.len() > 2 * MAX_CURSOR_BYTES || sum.len() != 16 {
        return None;
    }
    let cursor = hex
        .as_bytes()
        .chunks_exact(2)
        .map(|pair| Some(nibble(pair[0])? << 4 | nibble(pair[1])?))
        .collect::<Option<Vec<u8>>>()?;
    let sum = u64::from_str_radix(sum, 16).ok()?;
    (sum == checksum(kind, &cursor)).then_some(cursor)
}

fn nibble(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    }
}

/// FNV-1a over a salt, the kind and the cursor: stable across builds and platforms.
fn checksum(kind: &str, cursor: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let parts: [&[u8]; 4] = [b"sluice-page-token:", kind.as_bytes(), b"\0", cursor];
    for &b in parts.iter().copied().flatten() {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn tokens_round_trip_and_reject_forgeries() {
        for cursor in [
            "",
            "arn:aws:states:us-east-1:123456789012:execution:m:e",
            "é✓",
        ] {
            let token = encode("k", cursor.as_bytes());
            assert_eq!(decode("k", &token).unwrap(), cursor.as_bytes());
        }
        let token = encode("k", b"abc");
        let mut forged = token.clone();
        forged.replace_range(3..5, "62");
        for bad in [
            "x",
            "",
            "s1.zz.0",
            &forged,
            &token[..token.len() - 1],
            "s1.616.0000000000000000",
        ] {
            assert_eq!(decode("k", bad), None, "{bad}");
        }
        // Another kind of listing's token.
        assert_eq!(decode("other", &token), None);
    }

    proptest! {
        #[test]
        fn any_cursor_round_trips(cursor in proptest::collection::vec(any::<u8>(), 0..256)) {
            prop_assert_eq!(decode("k", &encode("k", &cursor)), Some(cursor));
        }

        #[test]
        fn any_text_decodes_or_is_refused_without_panicking(token in ".{0,300}") {
            let _ = decode("k", &token);
        }
    }
}
