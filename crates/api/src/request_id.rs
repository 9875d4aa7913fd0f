//! Request ids (`x-amzn-RequestId`): random (version 4) UUIDs, one per request. The gateway
//! draws it and keeps it for the request's task ([`current`]), so every layer and handler of
//! one request logs and answers the same id.

tokio::task_local! {
    static CURRENT: String;
}

/// A random (version 4) UUID in its usual form, e.g. `0b7c6a3e-5f1d-4c2a-9e8b-1a2b3c4d5e6f`.
/// A request id needs to be unique, not unguessable: drawn from a fast thread-local generator
/// rather than the OS's (one system call per request, ~1% of a request's CPU).
pub fn uuid_v4() -> String {
    let bytes = fastrand::u128(..).to_le_bytes();
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .to_string()
}

/// The id of the request being served (see [`scope`]), else a new one.
pub fn current() -> String {
    CURRENT
        .try_with(String::clone)
        .unwrap_or_else(|_| uuid_v4())
}

/// Runs `future` with `id` as the [`current`] request id.
pub async fn scope<F: std::future::Future>(id: String, future: F) -> F::Output {
    CURRENT.scope(id, future).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_are_well_formed_and_distinct() {
        let a = uuid_v4();
        let b = uuid_v4();
        assert_ne!(a, b);
        assert_eq!(a.len(), 36);
        let groups: Vec<&str> = a.split('-').collect();
        assert_eq!(
            groups.iter().map(|g| g.len()).collect::<Vec<_>>(),
            [8, 4, 4, 4, 12]
        );
        assert!(groups[2].starts_with('4'));
        assert!(matches!(groups[3].as_bytes()[0], b'8' | b'9' | b'a' | b'b'));
    }

    #[tokio::test]
    async fn one_request_keeps_one_id() {
        let inside = scope("r-1".into(), async { (current(), current()) }).await;
        assert_eq!(inside, ("r-1".to_string(), "r-1".to_string()));
        assert_ne!(current(), current());
    }
}
