//! [`Backoff`]: the delays between attempts at something that may pass (a full disk, a
//! throttled function).

use std::time::Duration;

/// Exponential backoff: the first delay, doubling after each attempt, capped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backoff {
    next: Duration,
    longest: Duration,
}

impl Backoff {
    /// Delays of `first`, `2 × first`, ... up to `longest`.
    pub const fn new(first: Duration, longest: Duration) -> Self {
        Self {
            next: first,
            longest,
        }
    }

    /// The delay before the next attempt (each call doubles the following one, up to the cap).
    pub fn next_delay(&mut self) -> Duration {
        let delay = self.next.min(self.longest);
        self.next = self.next.saturating_mul(2).min(self.longest);
        delay
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_up_to_the_cap() {
        let mut backoff = Backoff::new(Duration::from_millis(50), Duration::from_millis(300));
        let delays: Vec<u128> = (0..6).map(|_| backoff.next_delay().as_millis()).collect();
        assert_eq!(delays, [50, 100, 200, 300, 300, 300]);
        let mut huge = Backoff::new(Duration::MAX, Duration::from_secs(1));
        assert_eq!(huge.next_delay(), Duration::from_secs(1));
        assert_eq!(huge.next_delay(), Duration::from_secs(1));
    }
}
