//! AWS's per-shard throughput, enforced when [`crate::Options::throughput_limits`] is on:
//! writes of 1,000 records and 1 MiB per second, reads of five GetRecords calls and 2 MiB per
//! second. Each shard has a token bucket per direction that refills continuously on the
//! server's clock and holds at most one second of its rate; a read is charged its bytes after
//! it was answered (so a large read holds the next ones back, as AWS does).

/// A write shard's records per second.
pub const WRITE_RECORDS_PER_SECOND: f64 = 1000.0;
/// A write shard's bytes per second (data and partition keys).
pub const WRITE_BYTES_PER_SECOND: f64 = 1024.0 * 1024.0;
/// GetRecords calls per second and shard.
pub const READ_CALLS_PER_SECOND: f64 = 5.0;
/// Bytes per second and shard GetRecords returns.
pub const READ_BYTES_PER_SECOND: f64 = 2.0 * 1024.0 * 1024.0;

/// Two token buckets over the same second: one of operations (records or calls), one of
/// bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct Bucket {
    units: f64,
    bytes: f64,
    units_per_second: f64,
    bytes_per_second: f64,
    at_ms: i64,
}

impl Bucket {
    /// A full bucket of a write shard.
    pub fn write(now_ms: i64) -> Self {
        Self::full(now_ms, WRITE_RECORDS_PER_SECOND, WRITE_BYTES_PER_SECOND)
    }

    /// A full bucket of a read shard.
    pub fn read(now_ms: i64) -> Self {
        Self::full(now_ms, READ_CALLS_PER_SECOND, READ_BYTES_PER_SECOND)
    }

    fn full(now_ms: i64, units_per_second: f64, bytes_per_second: f64) -> Self {
        Self {
            units: units_per_second,
            bytes: bytes_per_second,
            units_per_second,
            bytes_per_second,
            at_ms: now_ms,
        }
    }

    fn refill(&mut self, now_ms: i64) {
        let seconds = (now_ms - self.at_ms).max(0) as f64 / 1000.0;
        self.units = (self.units + seconds * self.units_per_second).min(self.units_per_second);
        self.bytes = (self.bytes + seconds * self.bytes_per_second).min(self.bytes_per_second);
        self.at_ms = self.at_ms.max(now_ms);
    }

    /// Takes `units` and `bytes` if both are there: false (nothing taken) otherwise.
    pub fn take(&mut self, now_ms: i64, units: f64, bytes: f64) -> bool {
        self.refill(now_ms);
        if self.units < units || self.bytes < bytes || self.bytes <= 0.0 {
            return false;
        }
        self.units -= units;
        self.bytes -= bytes;
        true
    }

    /// Charges `bytes` already served: the bucket may go below zero, holding the next takes
    /// back until it has refilled.
    pub fn charge(&mut self, now_ms: i64, bytes: f64) {
        self.refill(now_ms);
        self.bytes -= bytes;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_write_shard_takes_a_thousand_records_a_second() {
        let mut bucket = Bucket::write(0);
        assert!((0..1000).all(|_| bucket.take(0, 1.0, 100.0)));
        assert!(!bucket.take(0, 1.0, 100.0));
        // Half a second later, half a second's worth.
        assert!((0..500).all(|_| bucket.take(500, 1.0, 100.0)));
        assert!(!bucket.take(500, 1.0, 100.0));
        // Never more than a second's worth, however long it waited.
        let mut idle = Bucket::write(0);
        assert!(!idle.take(60_000, 1001.0, 0.0));
        assert!(idle.take(60_000, 1000.0, 0.0));
    }

    #[test]
    fn a_write_shard_takes_a_mebibyte_a_second() {
        let mut bucket = Bucket::write(0);
        assert!(bucket.take(0, 1.0, 1024.0 * 1024.0));
        assert!(!bucket.take(0, 1.0, 1.0));
        assert!(bucket.take(1000, 1.0, 1024.0 * 1024.0));
    }

    #[test]
    fn a_large_read_holds_the_next_ones_back() {
        let mut bucket = Bucket::read(0);
        assert!(bucket.take(0, 1.0, 0.0));
        // 10 MiB served: five seconds of the read rate.
        bucket.charge(0, 10.0 * 1024.0 * 1024.0);
        assert!(!bucket.take(1000, 1.0, 0.0));
        assert!(!bucket.take(4000, 1.0, 0.0));
        assert!(bucket.take(4100, 1.0, 0.0));
        // Five calls a second at most.
        let mut calls = Bucket::read(0);
        assert!((0..5).all(|_| calls.take(0, 1.0, 0.0)));
        assert!(!calls.take(0, 1.0, 0.0));
        assert!(calls.take(200, 1.0, 0.0));
    }
}
