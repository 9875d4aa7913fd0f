//! The timer: one task sleeping on the server's clock until the earliest fire, woken when a
//! schedule changes. A fire commits, in one commit, the schedule's next fire time (or its
//! deletion, for a finished schedule whose ActionAfterCompletion is DELETE) and the delivery
//! it owes, then hands the delivery to [`super::deliver`].

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use sluice_api::scheduler::model::ActionAfterCompletion;
use sluice_store::{Store, Write};

use super::deliver::{self, Delivery};
use super::{Inner, SCHEDULE_KIND};

/// How long the timer waits before trying again after the store refused a fire's commit.
const COMMIT_BACKOFF: Duration = Duration::from_millis(500);

pub(super) fn start<S: Store>(inner: &Arc<Inner<S>>) {
    let tasks = inner.tasks.clone();
    tasks.spawn("scheduler-timer", run(Arc::clone(inner)));
}

/// When the earliest enabled schedule fires, epoch ms on the server's clock.
fn earliest<S: Store>(inner: &Inner<S>) -> Option<i64> {
    inner
        .schedules()
        .values()
        .filter(|live| live.record.enabled())
        .filter_map(|live| live.record.fire_ms())
        .min()
}

async fn run<S: Store>(inner: Arc<Inner<S>>) {
    let stopping = inner.tasks.cancelled();
    tokio::pin!(stopping);
    loop {
        // Taken before reading the schedules, so a change made meanwhile is not missed.
        let changed = inner.changed.notified();
        tokio::pin!(changed);
        changed.as_mut().enable();
        match earliest(&inner) {
            Some(at) if at <= inner.clock.now_ms() => {
                if !fire_due(&inner).await {
                    tokio::select! {
                        () = tokio::time::sleep(COMMIT_BACKOFF) => {}
                        () = &mut stopping => break,
                    }
                }
            }
            Some(at) => {
                tokio::select! {
                    () = inner.clock.sleep_until(at) => {}
                    () = &mut changed => {}
                    () = &mut stopping => break,
                }
            }
            None => {
                tokio::select! {
                    () = &mut changed => {}
                    () = &mut stopping => break,
                }
            }
        }
    }
}

/// Fires every schedule due now; false when the store refused the commit (nothing fired).
async fn fire_due<S: Store>(inner: &Arc<Inner<S>>) -> bool {
    let _changing = inner.changes.lock().await;
    let now = inner.clock.now_ms();
    let mut writes = Vec::new();
    // (schedule key, its next nominal fire or None when deleted, the delivery)
    let mut fired = Vec::new();
    {
        let schedules = inner.schedules();
        for (key, live) in schedules.iter() {
            let record = &live.record;
            let (Some(nominal), Some(fire_at)) = (record.next_ms, record.fire_ms()) else {
                continue;
            };
            if !record.enabled() || fire_at > now {
                continue;
            }
            let next = live.after_fire(nominal, now);
            let delivery = Delivery::new(record, nominal, now);
            let finished =
                next.is_none() && record.action_after_completion == ActionAfterCompletion::Delete;
            if finished {
                writes.push(Write::DeleteResource {
                    kind: SCHEDULE_KIND.to_owned(),
                    key: key.clone(),
                });
            } else {
                let mut updated = record.clone();
                updated.next_ms = next;
                match updated.resource() {
                    Ok(resource) => writes.push(Write::PutResource(resource)),
                    Err(error) => {
                        tracing::warn!(schedule = %key, %error, "cannot record a fire");
                        continue;
                    }
                }
            }
            match delivery.resource() {
                Ok(resource) => writes.push(Write::PutResource(resource)),
                Err(error) => {
                    tracing::warn!(schedule = %key, %error, "cannot record a fire");
                    writes.pop();
                    continue;
                }
            }
            let late = (now - fire_at).max(0) as u64;
            fired.push((
                key.clone(),
                (!finished).then_some(next),
                delivery,
                Arc::clone(&live.counters),
                late,
            ));
        }
    }
    if fired.is_empty() {
        return true;
    }
    if let Err(error) = inner.store.commit(writes).await {
        tracing::warn!(%error, "cannot record the schedules' fires; retrying");
        return false;
    }
    let mut deliveries = Vec::with_capacity(fired.len());
    {
        let mut schedules = inner.schedules();
        for (key, next, delivery, counters, late) in fired {
            counters.fired.fetch_add(1, Ordering::Relaxed);
            counters.last_late_ms.store(late, Ordering::Relaxed);
            match next {
                Some(next) => {
                    if let Some(live) = schedules.get_mut(&key) {
                        live.record.next_ms = next;
                    }
                }
                None => {
                    schedules.remove(&key);
                }
            }
            tracing::debug!(schedule = %key, late_ms = late, "fired");
            deliveries.push((delivery, counters));
        }
    }
    for (delivery, counters) in deliveries {
        deliver::spawn(inner, delivery, counters);
    }
    true
}
