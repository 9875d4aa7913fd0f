//! [`Tasks`]: every long-running background task of a component, spawned by kind
//! (`"execution"`, `"purge"`, `"event"`), counted while it runs, told when shutdown begins
//! ([`Tasks::cancelled`]) and awaited, then aborted past a grace period ([`Tasks::shutdown`]).
//! A component owns one `Tasks` (a cheap handle) and the binary shuts components down in order:
//! no task outlives the component that spawned it unnoticed.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::{Notify, watch};
use tokio::task::{AbortHandle, JoinHandle};

/// A component's background tasks. Clones share them.
#[derive(Clone)]
pub struct Tasks {
    inner: Arc<Inner>,
}

struct Inner {
    name: &'static str,
    stopping: watch::Sender<bool>,
    live: Mutex<HashMap<u64, (&'static str, AbortHandle)>>,
    next: AtomicU64,
    idle: Notify,
}

impl Inner {
    fn live(&self) -> MutexGuard<'_, HashMap<u64, (&'static str, AbortHandle)>> {
        self.live.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Removes its task from the live set when the task ends, returns or is aborted.
struct Live {
    inner: Arc<Inner>,
    id: u64,
}

impl Drop for Live {
    fn drop(&mut self) {
        let empty = {
            let mut live = self.inner.live();
            live.remove(&self.id);
            live.is_empty()
        };
        if empty {
            self.inner.idle.notify_waiters();
        }
    }
}

impl Tasks {
    /// The tasks of the component `name` (for logs).
    pub fn new(name: &'static str) -> Self {
        Self {
            inner: Arc::new(Inner {
                name,
                stopping: watch::channel(false).0,
                live: Mutex::default(),
                next: AtomicU64::new(0),
                idle: Notify::new(),
            }),
        }
    }

    /// Spawns `future` as a task of `kind`, tracked until it ends.
    pub fn spawn<F>(&self, kind: &'static str, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let id = self.inner.next.fetch_add(1, Ordering::Relaxed);
        let guard = Live {
            inner: Arc::clone(&self.inner),
            id,
        };
        // Held while spawning, so the task cannot end (and unregister) before it registers.
        let mut live = self.inner.live();
        let handle = tokio::spawn(async move {
            let _guard = guard;
            future.await
        });
        live.insert(id, (kind, handle.abort_handle()));
        handle
    }

    /// Resolves once shutdown has begun: long-running loops select on it and stop where they
    /// can resume from.
    pub fn cancelled(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut stopping = self.inner.stopping.subscribe();
        async move {
            let _ = stopping.wait_for(|stopping| *stopping).await;
        }
    }

    /// Whether shutdown has begun.
    pub fn is_stopping(&self) -> bool {
        *self.inner.stopping.borrow()
    }

    /// The running tasks, counted by kind.
    pub fn running(&self) -> BTreeMap<&'static str, usize> {
        let mut counts = BTreeMap::new();
        for (kind, _) in self.inner.live().values() {
            *counts.entry(*kind).or_insert(0) += 1;
        }
        counts
    }

    /// Begins shutdown ([`Tasks::cancelled`] resolves), waits up to `grace` for every task to
    /// end, then aborts the rest; returns how many of each kind were aborted.
    pub async fn shutdown(&self, grace: Duration) -> BTreeMap<&'static str, usize> {
        self.inner.stopping.send_replace(true);
        let all_ended = async {
            loop {
                let idle = self.inner.idle.notified();
                if self.inner.live().is_empty() {
                    return;
                }
                idle.await;
            }
        };
        if tokio::time::timeout(grace, all_ended).await.is_ok() {
            return BTreeMap::new();
        }
        let aborted = self.running();
        for (_, handle) in self.inner.live().values() {
            handle.abort();
        }
        if !aborted.is_empty() {
            tracing::warn!(
                component = self.inner.name,
                ?aborted,
                "aborted background tasks that did not end in time"
            );
        }
        aborted
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn tasks_are_counted_while_they_run() {
        let tasks = Tasks::new("test");
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let waiting = tasks.spawn("waiter", async move {
            let _ = rx.await;
        });
        tasks.spawn("quick", async {}).await.unwrap();
        assert_eq!(tasks.running(), BTreeMap::from([("waiter", 1)]));
        tx.send(()).unwrap();
        waiting.await.unwrap();
        assert!(tasks.running().is_empty());
    }

    #[tokio::test]
    async fn shutdown_tells_loops_to_stop_and_aborts_what_does_not() {
        let tasks = Tasks::new("test");
        let cancelled = tasks.cancelled();
        let polite = tasks.spawn("polite", async move {
            cancelled.await;
            "stopped"
        });
        let stubborn = tasks.spawn("stubborn", std::future::pending::<()>());
        assert!(!tasks.is_stopping());
        let aborted = tasks.shutdown(Duration::from_millis(100)).await;
        assert!(tasks.is_stopping());
        assert_eq!(aborted, BTreeMap::from([("stubborn", 1)]));
        assert_eq!(polite.await.unwrap(), "stopped");
        assert!(stubborn.await.unwrap_err().is_cancelled());
        assert!(tasks.running().is_empty());
    }

    /// On a paused clock: a shutdown that waited for its grace would move the clock 60 s.
    #[tokio::test(start_paused = true)]
    async fn shutdown_without_tasks_returns_without_waiting_for_the_grace() {
        let tasks = Tasks::new("test");
        let started = tokio::time::Instant::now();
        assert!(tasks.shutdown(Duration::from_secs(60)).await.is_empty());
        assert_eq!(started.elapsed(), Duration::ZERO);
    }
}
