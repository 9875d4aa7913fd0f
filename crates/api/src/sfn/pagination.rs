//! `nextToken` / `maxResults` pagination as the Step Functions list operations do it.
//!
//! A token is opaque to clients: here it wraps a cursor the backend chooses (typically the
//! sort key of the last item returned) with a checksum, so a token this server did not issue
//! is `InvalidToken: Invalid Token: 'Invalid token'`, as on AWS. `maxResults` absent or `0`
//! means the default page size, 100; the model caps it at 1000.

use sluice_types::page_token;

use crate::error::ApiError;

/// The page size when `maxResults` is absent or 0 (AWS's default).
pub const DEFAULT_PAGE_SIZE: usize = 100;

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

/// The kind of listing the tokens of [`Page`] belong to ([`sluice_types::page_token`]).
const TOKEN_KIND: &str = "sfn-page";

/// A `nextToken` for `cursor`.
pub fn encode_token(cursor: &str) -> String {
    page_token::encode(TOKEN_KIND, cursor.as_bytes())
}

/// The cursor of a token [`encode_token`] made, else `InvalidToken`.
pub fn decode_token(token: &str) -> Result<String, ApiError> {
    page_token::decode(TOKEN_KIND, token)
        .and_then(|cursor| String::from_utf8(cursor).ok())
        .ok_or_else(|| ApiError::invalid_token("Invalid token"))
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
