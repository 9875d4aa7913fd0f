//! Sluice's one clock. Every timer of the server's semantics (Wait states, retry backoff,
//! execution timeouts, Lambda event retries and ages) goes through it, so `--time-scale F` runs
//! them F times faster and tests advance time instantly (`POST /sluice/clock`). What runs in
//! real time (a worker's timeout, a disk's retry backoff) uses `tokio::time` directly.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use chrono::Utc;
use tokio::sync::watch;

/// A clock: wall time, optionally running `scale` times faster, plus a manual offset.
#[derive(Debug, Clone)]
pub struct Clock {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// Wall time (ms) from which scaled time runs: at `origin_ms` both clocks agree.
    origin_ms: i64,
    scale: f64,
    offset_ms: AtomicI64,
    /// Bumped on every manual advance so sleepers recompute their deadline.
    advanced: watch::Sender<i64>,
}

impl Clock {
    /// Wall time.
    pub fn system() -> Self {
        Self::scaled(1.0)
    }

    /// Time running `scale` times faster than the wall clock, from now on.
    ///
    /// # Panics
    /// If `scale` is not a positive finite number.
    pub fn scaled(scale: f64) -> Self {
        Self::scaled_since(Utc::now().timestamp_millis(), scale)
    }

    /// Time running `scale` times faster than the wall clock since the wall time `origin_ms`.
    /// A server keeps its origin across restarts so that timers persisted by an earlier
    /// process come due on the same scaled timeline.
    ///
    /// # Panics
    /// If `scale` is not a positive finite number.
    pub fn scaled_since(origin_ms: i64, scale: f64) -> Self {
        assert!(
            scale.is_finite() && scale > 0.0,
            "time scale must be positive"
        );
        let (advanced, _) = watch::channel(0);
        Self {
            inner: Arc::new(Inner {
                origin_ms,
                scale,
                offset_ms: AtomicI64::new(0),
                advanced,
            }),
        }
    }

    /// Milliseconds since the Unix epoch, on this clock.
    pub fn now_ms(&self) -> i64 {
        let i = &self.inner;
        let wall = Utc::now().timestamp_millis();
        let scaled = if i.scale == 1.0 {
            wall
        } else {
            i.origin_ms + ((wall - i.origin_ms) as f64 * i.scale) as i64
        };
        scaled + i.offset_ms.load(Ordering::Relaxed)
    }

    /// Moves the clock forward by `ms` at once; sleepers whose time has come wake up.
    pub fn advance(&self, ms: i64) {
        let total = self.inner.offset_ms.fetch_add(ms.max(0), Ordering::Relaxed) + ms.max(0);
        self.inner.advanced.send_replace(total);
    }

    /// Resolves once this clock reads `due_ms` or later.
    pub async fn sleep_until(&self, due_ms: i64) {
        let mut advanced = self.inner.advanced.subscribe();
        loop {
            let left = due_ms.saturating_sub(self.now_ms());
            if left <= 0 {
                return;
            }
            let real = Duration::from_secs_f64((left as f64 / self.inner.scale) / 1000.0);
            tokio::select! {
                () = tokio::time::sleep(real) => {}
                changed = advanced.changed() => {
                    if changed.is_err() {
                        tokio::time::sleep(real).await;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn advancing_wakes_a_sleeper_long_before_its_wall_time() {
        let clock = Clock::system();
        let due = clock.now_ms() + 3_600_000;
        let sleeper = tokio::spawn({
            let clock = clock.clone();
            async move { clock.sleep_until(due).await }
        });
        tokio::task::yield_now().await;
        clock.advance(3_600_000);
        tokio::time::timeout(Duration::from_secs(10), sleeper)
            .await
            .expect("woke after the advance")
            .unwrap();
        assert!(clock.now_ms() >= due);
    }

    #[test]
    fn a_scaled_clock_runs_faster() {
        let clock = Clock::scaled(1000.0);
        let start = clock.now_ms();
        std::thread::sleep(Duration::from_millis(20));
        assert!(
            clock.now_ms() - start >= 20_000,
            "20 ms of wall time is ≥ 20 s at scale 1000"
        );
    }

    #[test]
    fn two_clocks_with_the_same_origin_agree_like_a_restarted_server() {
        let origin = Utc::now().timestamp_millis() - 10_000;
        let before = Clock::scaled_since(origin, 50.0);
        let after = Clock::scaled_since(origin, 50.0);
        let (a, b) = (before.now_ms(), after.now_ms());
        assert!(
            (a - b).abs() < 1_000,
            "{a} vs {b}: one timeline across restarts"
        );
        assert!(
            a - origin >= 500_000,
            "10 s of wall time is ≥ 500 s at scale 50"
        );
    }
}
