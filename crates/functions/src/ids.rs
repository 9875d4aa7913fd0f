//! Random ids: request ids (UUIDs) and X-Ray trace ids.

/// A uniform random number in `[0, 1)`: weighted alias routing.
pub(crate) fn random_unit() -> f64 {
    fastrand::f64()
}

/// A version 4 UUID, e.g. `0b7c6a3e-5f1d-4c2a-9e8b-1a2b3c4d5e6f`.
pub fn uuid_v4() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// An X-Ray trace header as Lambda passes it: `Root=1-<epoch hex>-<24 hex>;Parent=<16 hex>;Sampled=0`.
pub fn trace_id(epoch_seconds: i64) -> String {
    let bits = fastrand::u128(..);
    format!(
        "Root=1-{:08x}-{:024x};Parent={:016x};Sampled=0",
        epoch_seconds.max(0) as u32,
        bits >> 32,
        bits as u64
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_and_trace_ids_are_well_formed() {
        let a = uuid_v4();
        assert_eq!(a.len(), 36);
        assert_ne!(a, uuid_v4());
        assert_eq!(&a[14..15], "4");
        let t = trace_id(1_700_000_000);
        assert!(t.starts_with("Root=1-6553f100-"), "{t}");
        assert!(t.ends_with(";Sampled=0"), "{t}");
        let draws: Vec<f64> = (0..1000).map(|_| random_unit()).collect();
        assert!(draws.iter().all(|d| (0.0..1.0).contains(d)));
        let low = draws.iter().filter(|d| **d < 0.5).count();
        assert!((350..650).contains(&low), "{low}");
    }
}
