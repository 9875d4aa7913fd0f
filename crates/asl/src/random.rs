//! Entropy as data: intrinsics (`States.UUID`, `States.MathRandom`) and retry jitter draw from
//! a [`Random`] the caller supplies, so a seeded run is reproducible.

/// A source of uniformly distributed 64-bit values.
pub trait Random {
    fn next_u64(&mut self) -> u64;

    /// A float uniformly distributed in `[0, 1)`.
    fn next_f64(&mut self) -> f64 {
        // 53 random mantissa bits.
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
}

/// SplitMix64: tiny, fast and good enough for jitter, UUIDs and `States.MathRandom` (these are
/// not security-sensitive on AWS either).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct SplitMix64(pub u64);

impl Random for SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_f64_stays_in_unit_interval_and_is_seed_deterministic() {
        let mut a = SplitMix64(7);
        let mut b = SplitMix64(7);
        for _ in 0..1000 {
            let x = a.next_f64();
            assert!((0.0..1.0).contains(&x));
            assert_eq!(x, b.next_f64());
        }
    }
}
