//! [`Clock`]: the time Event invocations run on — when they were accepted, when a retry is due,
//! how old they are. `sluice serve` passes the engine's clock (scaled by `--time-scale`, moved
//! by `POST /sluice/clock`), so AWS's minute-long retry delays and six-hour event ages take
//! milliseconds in tests; [`SystemClock`] is wall time. Workers' timeouts stay on wall time:
//! handlers run in real time.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

/// A source of time and of timers on it.
pub trait Clock: Send + Sync + 'static {
    /// Milliseconds since the Unix epoch, on this clock.
    fn now_ms(&self) -> i64;
    /// Resolves once this clock reads `due_ms` or later.
    fn sleep_until(&self, due_ms: i64) -> Pin<Box<dyn Future<Output = ()> + Send + '_>>;
}

/// Wall time.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        chrono::Utc::now().timestamp_millis()
    }

    fn sleep_until(&self, due_ms: i64) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(async move {
            let left = due_ms - self.now_ms();
            if left > 0 {
                tokio::time::sleep(Duration::from_millis(left as u64)).await;
            }
        })
    }
}
