//! ListObjects(V2)'s walk over a bucket's sorted keys: prefix, delimiter and common prefixes,
//! a start marker and a page size, as S3 pages them (a common prefix counts as one key and
//! is returned once, on the page where its first key falls).

use std::collections::BTreeMap;
use std::ops::Bound;

/// What to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    pub prefix: String,
    pub delimiter: Option<String>,
    /// Keys (and common prefixes) after this one only.
    pub after: Option<String>,
    /// At most this many keys and common prefixes together (S3 caps it at 1,000).
    pub max_keys: usize,
}

/// A page of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub objects: Vec<T>,
    pub common_prefixes: Vec<String>,
    /// Whether keys or common prefixes follow this page.
    pub truncated: bool,
    /// The last key or common prefix of the page: where the next page starts after.
    pub last: Option<String>,
}

/// One page of `keys` by `query`.
pub fn page<V, T>(
    keys: &BTreeMap<String, V>,
    query: &Query,
    mut visible: impl FnMut(&V) -> Option<T>,
) -> Page<T> {
    let mut objects = Vec::new();
    let mut common_prefixes: Vec<String> = Vec::new();
    let mut last = None;
    let delimiter = query.delimiter.as_deref().filter(|d| !d.is_empty());
    let start = match &query.after {
        // A page that ended on a common prefix resumes past every key under it.
        Some(after)
            if delimiter.is_some_and(|d| {
                after.len() > query.prefix.len()
                    && after.starts_with(&query.prefix)
                    && after.ends_with(d)
                    && after[query.prefix.len()..].find(d)
                        == Some(after.len() - query.prefix.len() - d.len())
            }) =>
        {
            Bound::Excluded(past(after))
        }
        Some(after) if after.as_str() >= query.prefix.as_str() => Bound::Excluded(after.clone()),
        _ => Bound::Included(query.prefix.clone()),
    };
    let mut range = keys.range::<String, _>((start, Bound::Unbounded));
    let mut truncated = false;
    while let Some((key, value)) = range.next() {
        if !key.starts_with(&query.prefix) {
            break;
        }
        let Some(item) = visible(value) else {
            continue;
        };
        let common = delimiter.and_then(|d| {
            key[query.prefix.len()..]
                .find(d)
                .map(|at| key[..query.prefix.len() + at + d.len()].to_owned())
        });
        if let Some(common) = &common
            && common_prefixes.last() == Some(common)
        {
            continue;
        }
        if objects.len() + common_prefixes.len() == query.max_keys {
            truncated = true;
            break;
        }
        match common {
            Some(common) => {
                // Every key under the common prefix is summed up by it: skip past them.
                range = keys.range::<String, _>((Bound::Excluded(past(&common)), Bound::Unbounded));
                last = Some(common.clone());
                common_prefixes.push(common);
            }
            None => {
                last = Some(key.clone());
                objects.push(item);
            }
        }
    }
    Page {
        objects,
        common_prefixes,
        truncated,
        last,
    }
}

/// A string after every key that starts with `prefix` (S3 keys never hold U+10FFFF).
fn past(prefix: &str) -> String {
    let mut past = prefix.to_owned();
    past.push(char::MAX);
    past
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn keys(names: &[&str]) -> BTreeMap<String, ()> {
        names.iter().map(|n| (n.to_string(), ())).collect()
    }

    fn named(map: &BTreeMap<String, ()>, query: &Query) -> Page<String> {
        let owned: BTreeMap<String, String> = map.keys().map(|k| (k.clone(), k.clone())).collect();
        page(&owned, query, |k| Some(k.clone()))
    }

    #[test]
    fn delimiter_folds_keys_into_common_prefixes() {
        let map = keys(&["a/1", "a/2", "b", "c/x/1", "c/y", "d"]);
        let got = named(
            &map,
            &Query {
                delimiter: Some("/".into()),
                max_keys: 1000,
                ..Query::default()
            },
        );
        assert_eq!(got.objects, ["b", "d"]);
        assert_eq!(got.common_prefixes, ["a/", "c/"]);
        assert!(!got.truncated);
        let got = named(
            &map,
            &Query {
                prefix: "c/".into(),
                delimiter: Some("/".into()),
                max_keys: 1000,
                ..Query::default()
            },
        );
        assert_eq!(got.objects, ["c/y"]);
        assert_eq!(got.common_prefixes, ["c/x/"]);
    }

    #[test]
    fn a_common_prefix_counts_as_one_key_of_a_page() {
        let map = keys(&["a/1", "a/2", "b", "c/1"]);
        let query = |after: Option<&str>| Query {
            delimiter: Some("/".into()),
            after: after.map(str::to_owned),
            max_keys: 1,
            ..Query::default()
        };
        let first = named(&map, &query(None));
        assert_eq!(
            (first.common_prefixes.clone(), first.truncated),
            (vec!["a/".to_string()], true)
        );
        let second = named(&map, &query(first.last.as_deref()));
        assert_eq!(second.objects, ["b"]);
        let third = named(&map, &query(second.last.as_deref()));
        assert_eq!(
            (third.common_prefixes, third.truncated),
            (vec!["c/".to_string()], false)
        );
    }

    proptest! {
        /// Paging through a listing one page at a time gives exactly the one-page listing.
        #[test]
        fn pages_concatenate_to_the_whole_listing(
            names in proptest::collection::btree_set("[ab/]{1,5}", 0..40),
            prefix in "[ab/]{0,2}",
            delimited in any::<bool>(),
            size in 1usize..5,
        ) {
            let map: BTreeMap<String, ()> = names.iter().map(|n| (n.clone(), ())).collect();
            let delimiter = delimited.then(|| "/".to_string());
            let whole = named(&map, &Query { prefix: prefix.clone(), delimiter: delimiter.clone(), after: None, max_keys: usize::MAX });
            let (mut objects, mut prefixes, mut after) = (Vec::new(), Vec::new(), None);
            loop {
                let got = named(&map, &Query { prefix: prefix.clone(), delimiter: delimiter.clone(), after: after.clone(), max_keys: size });
                prop_assert!(got.objects.len() + got.common_prefixes.len() <= size);
                objects.extend(got.objects);
                prefixes.extend(got.common_prefixes);
                if !got.truncated { break; }
                after = got.last;
            }
            prop_assert_eq!(objects, whole.objects);
            prop_assert_eq!(prefixes, whole.common_prefixes);
        }
    }
}
