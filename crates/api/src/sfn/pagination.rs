//! `nextToken` / `maxResults` pagination as the Step Functions list operations do it.
//!
//! A token is opaque to clients: here it wraps a cursor the backend chooses (typically the
//! sort key of the last item returned) with a checksum, so a token this server did not issue
//! is `InvalidToken: Invalid Token: 'Invalid token'`, as on AWS. `maxResults` absent or `0`
//! means the default page size, 100; the model caps it at 1000.

use crate::error::ApiError;

/// The page size when `maxResults` is absent or 0 (AWS's default).
pub const DEFAULT_PAGE_SIZE: usize = 100;

const TOKEN_VERSION: &str = "s1";

/// One page to return: resume after `after` (a cursor from [`encode_token`]), at most `limit`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// The cursor of the last item of the previous page, `None` for the first page.
    pub after: Option<String>,
    /// How many items to return, at least 1.
    pub limit: usize,
}

impl Page {
    /// The page a list request asks for.
    pub fn from_request(
        next_token: Option<&str>,
        max_results: Option<i32>,
    ) -> Result<Self, ApiError> {
        let limit = match max_results {
            None | Some(0) => DEFAULT_PAGE_SIZE,
            Some(n) => usize::try_from(n).map_err(|_| {
                ApiError::validation(format!(
                    "1 validation error detected: Value '{n}' at 'maxResults' failed to satisfy \
                     constraint: Member must have value greater than or equal to 0"
                ))
            })?,
        };
        let after = next_token.map(decode_token).transpose()?;
        Ok(Self { after, limit })
    }

    /// Takes this page from `items`, which must come in the list's order, each with a cursor
    /// unique in the list (`cursor`). Returns the page and the `nextToken` when more remain.
    /// A cursor no longer in the list (its item was deleted) resumes at the first item that
    /// sorts after it if the list is ordered by cursor, else at the end.
    pub fn take<T, I, F>(&self, items: I, cursor: F) -> (Vec<T>, Option<String>)
    where
        I: IntoIterator<Item = T>,
        F: Fn(&T) -> String,
    {
        let mut iter = items.into_iter().peekable();
        if let Some(after) = &self.after {
            // Skip up to and including the item the previous page ended with.
            let mut found = false;
            let mut skipped = Vec::new();
            for item in iter.by_ref() {
                let key = cursor(&item);
                if &key == after {
                    found = true;
                    break;
                }
                skipped.push(item);
            }
            if !found {
                // Fall back to cursor order: resume after the first key greater than `after`.
                let rest: Vec<T> = skipped
                    .into_iter()
                    .filter(|item| cursor(item).as_str() > after.as_str())
                    .collect();
                return Self::cut(rest.into_iter().peekable(), self.limit, &cursor);
            }
        }
        Self::cut(iter, self.limit, &cursor)
    }

    fn cut<T, I, F>(
        mut iter: std::iter::Peekable<I>,
        limit: usize,
        cursor: &F,
    ) -> (Vec<T>, Option<String>)
    where
        I: Iterator<Item = T>,
        F: Fn(&T) -> String,
    {
        let page: Vec<T> = iter.by_ref().take(limit.max(1)).collect();
        let next = match (iter.peek(), page.last()) {
            (Some(_), Some(last)) => Some(encode_token(&cursor(last))),
            _ => None,
        };
        (page, next)
    }
}

/// A `nextToken` for `cursor`.
pub fn encode_token(cursor: &str) -> String {
    let mut token = String::with_capacity(TOKEN_VERSION.len() + 18 + 2 * cursor.len());
    token.push_str(TOKEN_VERSION);
    token.push('.');
    for b in cursor.bytes() {
        token.push(HEX[usize::from(b >> 4)] as char);
        token.push(HEX[usize::from(b & 0xf)] as char);
    }
    token.push('.');
    token.push_str(&format!("{:016x}", checksum(cursor.as_bytes())));
    token
}

/// The cursor of a token [`encode_token`] made, else `InvalidToken`.
pub fn decode_token(token: &str) -> Result<String, ApiError> {
    let invalid = || ApiError::invalid_token("Invalid token");
    let mut parts = token.split('.');
    let (Some(TOKEN_VERSION), Some(hex), Some(sum), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(invalid());
    };
    if hex.len() % 2 != 0 {
        return Err(invalid());
    }
    let nibble = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    };
    let mut bytes = Vec::with_capacity(hex.len() / 2);
    for pair in hex.as_bytes().chunks_exact(2) {
        let (Some(hi), Some(lo)) = (nibble(pair[0]), nibble(pair[1])) else {
            return Err(invalid());
        };
        bytes.push(hi << 4 | lo);
    }
    if sum != format!("{:016x}", checksum(&bytes)) {
        return Err(invalid());
    }
    String::from_utf8(bytes).map_err(|_| invalid())
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// FNV-1a, salted: catches hand-made and truncated tokens (not a security boundary).
fn checksum(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in b"sluice-page-token:".iter().chain(bytes) {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_reject_forgeries() {
        for cursor in [
            "",
            "arn:aws:states:us-east-1:123456789012:execution:m:e",
            "é✓",
        ] {
            let token = encode_token(cursor);
            assert_eq!(decode_token(&token).unwrap(), cursor);
            assert!(token.len() <= 1024);
        }
        let token = encode_token("abc");
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
            let error = decode_token(bad).unwrap_err();
            assert_eq!(error.kind, "InvalidToken");
            assert_eq!(error.message, "Invalid Token: 'Invalid token'");
        }
    }

    #[test]
    fn max_results_zero_or_absent_is_the_default() {
        assert_eq!(Page::from_request(None, None).unwrap().limit, 100);
        assert_eq!(Page::from_request(None, Some(0)).unwrap().limit, 100);
        assert_eq!(Page::from_request(None, Some(7)).unwrap().limit, 7);
        assert!(Page::from_request(Some("garbage"), None).is_err());
    }

    #[test]
    fn pages_cover_the_list_once() {
        let items: Vec<String> = (0..25).map(|i| format!("k{i:02}")).collect();
        let mut seen = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = Page::from_request(token.as_deref(), Some(10)).unwrap();
            let (got, next) = page.take(items.iter().cloned(), |s| s.clone());
            seen.extend(got);
            match next {
                Some(next) => token = Some(next),
                None => break,
            }
        }
        assert_eq!(seen, items);
    }

    #[test]
    fn a_deleted_cursor_resumes_in_order() {
        let items = ["a", "b", "d", "e"];
        let page = Page {
            after: Some("c".into()),
            limit: 1,
        };
        let (got, next) = page.take(items, |s| s.to_string());
        assert_eq!(got, ["d"]);
        assert_eq!(decode_token(&next.unwrap()).unwrap(), "d");
        let page = Page {
            after: Some("z".into()),
            limit: 5,
        };
        assert_eq!(page.take(items, |s| s.to_string()), (vec![], None));
    }
}
