//! Delivers the buckets' event notifications to their queues, topics, functions and event
//! buses, at least once: a notice is in the store from its object's commit until its
//! destination took it, so a crash in between delivers it after the restart. A destination
//! that fails is retried with backoff (1 s doubling up to 5 min), other notices going on.

use std::time::Duration;

use sluice_buckets::{Buckets, Notice};
use sluice_store::Store;

use crate::targets::{Delivery, EventFields, Targets};

const FIRST_RETRY: Duration = Duration::from_secs(1);
const LAST_RETRY: Duration = Duration::from_secs(300);

/// Delivers `buckets`' notices through `targets` on the tasks returned, until they shut down.
pub fn run<S: Store>(buckets: Buckets<S>, targets: Targets) -> sluice_runtime::Tasks {
    let tasks = sluice_runtime::Tasks::new("buckets");
    let mut notices = buckets.notices();
    let spawner = tasks.clone();
    let stopping = tasks.cancelled();
    tasks.spawn("s3-notifications", async move {
        tokio::pin!(stopping);
        loop {
            let notice = tokio::select! {
                () = &mut stopping => return,
                notice = notices.recv() => notice,
            };
            let Some(notice) = notice else { return };
            let (buckets, targets) = (buckets.clone(), targets.clone());
            let cancelled = spawner.cancelled();
            // A delivery cut short by shutdown stays in the store for the next start.
            spawner.spawn("s3-notification", async move {
                tokio::select! {
                    () = cancelled => {}
                    () = deliver(&buckets, &targets, notice) => {}
                }
            });
        }
    });
    tasks
}

async fn deliver<S: Store>(buckets: &Buckets<S>, targets: &Targets, notice: Notice) {
    let delivery = Delivery {
        arn: notice.arn.clone(),
        payload: notice.payload.clone(),
        event_fields: notice.detail_type.clone().map(|detail_type| EventFields {
            source: "aws.s3".into(),
            detail_type,
            resources: notice.bucket_arn.iter().cloned().collect(),
        }),
        idempotency_key: notice.id.clone(),
        // S3 sends to a FIFO queue's single group; deduplication by the notice.
        message_group_id: Some("s3-notifications".into()),
        ..Delivery::default()
    };
    let mut wait = FIRST_RETRY;
    loop {
        match targets.deliver(&delivery).await {
            Ok(()) => break,
            Err(error) => {
                tracing::warn!(arn = notice.arn, %error, retry_in = ?wait, "cannot deliver an S3 event notification");
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(LAST_RETRY);
            }
        }
    }
    if let Err(error) = buckets.delivered(&notice.id).await {
        tracing::warn!(%error, "cannot forget a delivered S3 notification; it may be sent again");
    }
}
