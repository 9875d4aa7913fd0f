//! The tasks of activity Task states waiting for a worker (GetActivityTask), per activity ARN.
//! A task is queued when its execution schedules it (again after a restart: tasks are
//! at-least-once) and handed out once; whether its execution still waits for it is checked
//! when a worker takes it (`Engine::get_activity_task`), so a task that timed out or whose
//! execution stopped is skipped then.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::Notify;

/// One activity task: what GetActivityTask answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActivityTask {
    pub token: String,
    /// The task's effective input, JSON text.
    pub input: String,
}

/// Queued activity tasks by activity ARN.
#[derive(Debug, Default)]
pub(crate) struct ActivityQueues {
    queues: Mutex<HashMap<String, VecDeque<ActivityTask>>>,
    /// Woken on every push: waiting pollers look again.
    pushed: Notify,
}

impl ActivityQueues {
    pub(crate) fn push(&self, activity: &str, task: ActivityTask) {
        let mut queues = self.queues.lock().unwrap_or_else(|e| e.into_inner());
        let queue = queues.entry(activity.to_owned()).or_default();
        // A task re-issued (after a restart) is queued once.
        if !queue.iter().any(|t| t.token == task.token) {
            queue.push_back(task);
        }
        drop(queues);
        self.pushed.notify_waiters();
    }

    fn pop(&self, activity: &str) -> Option<ActivityTask> {
        let mut queues = self.queues.lock().unwrap_or_else(|e| e.into_inner());
        let queue = queues.get_mut(activity)?;
        let task = queue.pop_front();
        if queue.is_empty() {
            queues.remove(activity);
        }
        task
    }

    /// The oldest task of `activity`, waiting up to `wait` for one.
    pub(crate) async fn take(&self, activity: &str, wait: Duration) -> Option<ActivityTask> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let pushed = self.pushed.notified();
            tokio::pin!(pushed);
            // Registered before looking, so a push in between is not missed.
            pushed.as_mut().enable();
            if let Some(task) = self.pop(activity) {
                return Some(task);
            }
            if tokio::time::timeout_at(deadline, pushed).await.is_err() {
                return None;
            }
        }
    }

    /// Drops the queued tasks of a deleted activity.
    pub(crate) fn forget(&self, activity: &str) {
        let mut queues = self.queues.lock().unwrap_or_else(|e| e.into_inner());
        queues.remove(activity);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(token: &str) -> ActivityTask {
        ActivityTask {
            token: token.into(),
            input: "{}".into(),
        }
    }

    #[tokio::test]
    async fn tasks_go_out_oldest_first_once_and_a_poller_waits_for_the_next() {
        let queues = std::sync::Arc::new(ActivityQueues::default());
        queues.push("a", task("t1"));
        queues.push("a", task("t2"));
        queues.push("a", task("t1"));
        queues.push("b", task("t3"));
        let short = Duration::from_millis(10);
        assert_eq!(queues.take("a", short).await, Some(task("t1")));
        assert_eq!(queues.take("a", short).await, Some(task("t2")));
        assert_eq!(queues.take("a", short).await, None, "t1 was queued once");
        let waiting = {
            let queues = std::sync::Arc::clone(&queues);
            tokio::spawn(async move { queues.take("a", Duration::from_secs(10)).await })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        queues.push("a", task("t4"));
        assert_eq!(waiting.await.unwrap(), Some(task("t4")));
        queues.forget("b");
        assert_eq!(queues.take("b", short).await, None);
    }
}
