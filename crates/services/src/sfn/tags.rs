//! Tags of state machines and activities, checked as AWS checks them: every tag has a key
//! (the model leaves `key` optional, AWS's front end does not: a tag without one is a
//! `ValidationException` worded as for any required member), a key given twice keeps its last
//! value, and a resource holds at most [`MAX_TAGS`] tags, counting those it has
//! (`TooManyTags`). Lengths are the model's, checked when the request is decoded.
//!
//! A child module of `backend` (declared there).

use sluice_api::ApiError;
use sluice_api::sfn::model::Tag;
use sluice_api::shape::Violation;

/// At most this many tags on a resource, as on AWS.
pub(super) const MAX_TAGS: usize = 50;

/// A resource's tags: `(key, value)` in the order they were first given.
pub(super) type Tags = Vec<(String, String)>;

/// The tags of a request, each with a key (a missing value is empty); a key given twice
/// keeps its last value.
pub(super) fn requested(tags: Option<Vec<Tag>>) -> Result<Tags, ApiError> {
    let tags = tags.unwrap_or_default();
    let missing: Vec<Violation> = tags
        .iter()
        .enumerate()
        .filter(|(_, tag)| tag.key.is_none())
        .map(|(i, _)| Violation {
            path: format!("tags.{}.member.key", i + 1),
            value: Some("null".to_string()),
            constraint: "Member must not be null".to_string(),
        })
        .collect();
    if !missing.is_empty() {
        return Err(ApiError::violations(&missing));
    }
    let mut merged = Tags::with_capacity(tags.len());
    merge(
        &mut merged,
        tags.into_iter()
            .map(|t| (t.key.unwrap_or_default(), t.value.unwrap_or_default())),
    );
    Ok(merged)
}

/// Adds `new` to `tags`: a key already there takes the new value.
pub(super) fn merge(tags: &mut Tags, new: impl IntoIterator<Item = (String, String)>) {
    for (key, value) in new {
        match tags.iter_mut().find(|(k, _)| *k == key) {
            Some(tag) => tag.1 = value,
            None => tags.push((key, value)),
        }
    }
}

/// `TooManyTags` when `tags`, the tags `resource` would have, are more than [`MAX_TAGS`].
pub(super) fn check_count(tags: &Tags, resource: &str) -> Result<(), ApiError> {
    if tags.len() <= MAX_TAGS {
        return Ok(());
    }
    Err(ApiError::too_many_tags(
        resource,
        format!("Too many tags: a resource has at most {MAX_TAGS}"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag(key: Option<&str>, value: Option<&str>) -> Tag {
        Tag {
            key: key.map(str::to_owned),
            value: value.map(str::to_owned),
        }
    }

    #[test]
    fn a_tag_needs_a_key() {
        let error = requested(Some(vec![
            tag(Some("a"), Some("1")),
            tag(None, Some("2")),
            tag(None, None),
        ]))
        .unwrap_err();
        assert_eq!(error.kind, "ValidationException");
        assert_eq!(
            error.message,
            "2 validation errors detected: Value null at 'tags.2.member.key' failed to satisfy \
             constraint: Member must not be null; Value null at 'tags.3.member.key' failed to \
             satisfy constraint: Member must not be null"
        );
        assert_eq!(requested(None).unwrap(), Tags::new());
    }

    #[test]
    fn a_repeated_key_keeps_its_last_value_and_a_missing_value_is_empty() {
        let tags = requested(Some(vec![
            tag(Some("a"), Some("1")),
            tag(Some("b"), None),
            tag(Some("a"), Some("2")),
        ]))
        .unwrap();
        assert_eq!(
            tags,
            [("a".into(), "2".into()), ("b".into(), String::new())]
        );
    }

    #[test]
    fn at_most_fifty_tags_counting_those_a_resource_has() {
        let mut tags: Tags = (0..49).map(|i| (format!("k{i}"), String::new())).collect();
        merge(&mut tags, [("k0".to_string(), "again".to_string())]);
        assert!(check_count(&tags, "arn").is_ok());
        merge(&mut tags, [("k49".to_string(), String::new())]);
        assert!(check_count(&tags, "arn").is_ok(), "50 is the limit");
        merge(&mut tags, [("k50".to_string(), String::new())]);
        let error = check_count(&tags, "arn").unwrap_err();
        assert_eq!(error.kind, "TooManyTags");
        assert_eq!(error.message, "Too many tags: a resource has at most 50");
    }
}
