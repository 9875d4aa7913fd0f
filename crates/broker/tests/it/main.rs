//! The broker on a real store (SQLite files in a scratch dir): what survives a restart, and
//! SQS's delivery rules on an advanceable clock.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use sluice_broker::{Attribute, AttributeValue, Broker, Error, Receive, Send};
use sluice_clock::Clock;
use sluice_store::{SqliteOptions, SqliteStore};
use sluice_types::Scope;

fn open_store(dir: &Path) -> SqliteStore {
    SqliteStore::open(&dir.join("sluice.db"), SqliteOptions::default()).unwrap()
}

async fn broker(store: SqliteStore, clock: &Clock) -> Broker<SqliteStore> {
    Broker::open(
        store,
        clock.clone(),
        Scope::new("us-east-1", "000000000000"),
    )
    .await
    .unwrap()
}

fn send(body: &str) -> Send {
    Send {
        body: body.into(),
        ..Send::default()
    }
}

fn receive(max: usize, visibility: i64) -> Receive {
    Receive {
        max_messages: max,
        visibility_timeout: Some(visibility),
        wait_seconds: Some(0),
    }
}

fn attributes(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).into(), (*v).into()))
        .collect()
}

#[tokio::test]
async fn messages_are_delivered_again_after_their_visibility_and_survive_a_restart() {
    let dir = sluice_test_util::scratch("broker", "restart");
    let clock = Clock::scaled(1.0);
    let store = open_store(&dir);
    let b = broker(store.clone(), &clock).await;
    b.create_queue("orders", &BTreeMap::new(), Vec::new())
        .await
        .unwrap();
    let sent = b
        .send("orders", vec![send("one"), send("two"), send("three")])
        .await
        .unwrap();
    assert!(sent.iter().all(Result::is_ok));
    let first = b.receive("orders", receive(2, 30)).await.unwrap();
    assert_eq!(
        first
            .iter()
            .map(|m| m.sent.body.as_str())
            .collect::<Vec<_>>(),
        ["one", "two"]
    );
    b.delete("orders", &first[0].receipt_handle).await.unwrap();
    // Deleting again is not an error.
    b.delete("orders", &first[0].receipt_handle).await.unwrap();
    let counts = b.counts("orders").unwrap();
    assert_eq!((counts.visible, counts.in_flight), (1, 1));
    drop(b);
    store.close().await.unwrap();

    // After a restart: the deleted one stays deleted, the in-flight one stays invisible until
    // its timeout, with its receive count.
    let store = open_store(&dir);
    let b = broker(store.clone(), &clock).await;
    let now = b.receive("orders", receive(10, 30)).await.unwrap();
    assert_eq!(
        now.iter().map(|m| m.sent.body.as_str()).collect::<Vec<_>>(),
        ["three"]
    );
    clock.advance(31_000);
    let again = b.receive("orders", receive(10, 30)).await.unwrap();
    let bodies: Vec<(&str, u32)> = again
        .iter()
        .map(|m| (m.sent.body.as_str(), m.receive_count))
        .collect();
    assert_eq!(bodies, [("two", 2), ("three", 2)]);
    store.close().await.unwrap();
}

#[tokio::test]
async fn a_long_poll_returns_as_soon_as_a_message_arrives() {
    let dir = sluice_test_util::scratch("broker", "long-poll");
    let clock = Clock::scaled(1.0);
    let b = broker(open_store(&dir), &clock).await;
    b.create_queue("q", &BTreeMap::new(), Vec::new())
        .await
        .unwrap();
    let receiver = {
        let b = b.clone();
        tokio::spawn(async move {
            b.receive(
                "q",
                Receive {
                    max_messages: 1,
                    visibility_timeout: None,
                    wait_seconds: Some(20),
                },
            )
            .await
        })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = std::time::Instant::now();
    b.send("q", vec![send("hello")]).await.unwrap();
    let got = tokio::time::timeout(Duration::from_secs(5), receiver)
        .await
        .expect("the poll returned before its 20 s")
        .unwrap()
        .unwrap();
    assert_eq!(got[0].sent.body, "hello");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn messages_move_to_the_dead_letter_queue_after_max_receive_count() {
    let dir = sluice_test_util::scratch("broker", "dlq");
    let clock = Clock::scaled(1.0);
    let b = broker(open_store(&dir), &clock).await;
    let dlq = b
        .create_queue("dlq", &BTreeMap::new(), Vec::new())
        .await
        .unwrap();
    let policy = format!(
        r#"{{"deadLetterTargetArn":"{}","maxReceiveCount":2}}"#,
        dlq.arn
    );
    b.create_queue(
        "work",
        &attributes(&[("RedrivePolicy", &policy)]),
        Vec::new(),
    )
    .await
    .unwrap();
    b.send("work", vec![send("poison")]).await.unwrap();
    for _ in 0..2 {
        assert_eq!(b.receive("work", receive(1, 1)).await.unwrap().len(), 1);
        clock.advance(1_500);
    }
    // The third receive finds it past its count: it moves instead.
    assert!(b.receive("work", receive(1, 1)).await.unwrap().is_empty());
    let dead = b.receive("dlq", receive(1, 30)).await.unwrap();
    assert_eq!(dead[0].sent.body, "poison");
    assert_eq!(
        dead[0].sent.dead_letter_source.as_deref(),
        Some(b.queue("work").unwrap().arn.as_str())
    );
    // A redrive policy naming a missing queue is refused.
    let missing =
        r#"{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:000000000000:nope","maxReceiveCount":2}"#;
    assert!(matches!(
        b.create_queue(
            "other",
            &attributes(&[("RedrivePolicy", missing)]),
            Vec::new()
        )
        .await,
        Err(Error::InvalidParameterValue(_))
    ));
}

#[tokio::test]
async fn delays_retention_and_bad_input_follow_sqs() {
    let dir = sluice_test_util::scratch("broker", "rules");
    let clock = Clock::scaled(1.0);
    let b = broker(open_store(&dir), &clock).await;
    b.create_queue(
        "q",
        &attributes(&[("DelaySeconds", "5"), ("MessageRetentionPeriod", "60")]),
        Vec::new(),
    )
    .await
    .unwrap();
    // The same attributes again: the same queue; others: QueueNameExists.
    b.create_queue("q", &attributes(&[("DelaySeconds", "5")]), Vec::new())
        .await
        .unwrap();
    assert!(matches!(
        b.create_queue("q", &attributes(&[("DelaySeconds", "6")]), Vec::new())
            .await,
        Err(Error::QueueNameExists(_))
    ));
    let outcomes = b
        .send(
            "q",
            vec![
                send("delayed"),
                Send {
                    delay_seconds: Some(0),
                    ..send("now")
                },
                send("bad \u{1}"),
                Send {
                    delay_seconds: Some(901),
                    ..send("late")
                },
            ],
        )
        .await
        .unwrap();
    assert!(outcomes[0].is_ok() && outcomes[1].is_ok());
    assert!(matches!(&outcomes[2], Err(Error::InvalidParameterValue(m)) if m.contains("#x1")));
    assert!(matches!(&outcomes[3], Err(Error::InvalidParameterValue(_))));
    assert_eq!(b.counts("q").unwrap().delayed, 1);
    let now = b.receive("q", receive(10, 30)).await.unwrap();
    assert_eq!(now.len(), 1);
    assert_eq!(now[0].sent.body, "now");
    clock.advance(5_000);
    assert_eq!(
        b.receive("q", receive(10, 30)).await.unwrap()[0].sent.body,
        "delayed"
    );
    // Past the retention period, messages are gone.
    b.send(
        "q",
        vec![Send {
            delay_seconds: Some(0),
            ..send("old")
        }],
    )
    .await
    .unwrap();
    clock.advance(61_000);
    assert!(b.receive("q", receive(10, 30)).await.unwrap().is_empty());
    // Message attributes get AWS's digest.
    let mut with_attributes = send("a");
    with_attributes.delay_seconds = Some(0);
    with_attributes.attributes.insert(
        "kind".into(),
        Attribute {
            data_type: "String".into(),
            value: AttributeValue::String("alert".into()),
        },
    );
    let outcome = b
        .send("q", vec![with_attributes])
        .await
        .unwrap()
        .remove(0)
        .unwrap();
    assert_eq!(outcome.md5_of_body, "0cc175b9c0f1b6a831c399e269772661");
    assert!(outcome.md5_of_attributes.is_some());
    assert!(matches!(
        b.receive("nope", receive(1, 1)).await,
        Err(Error::QueueDoesNotExist)
    ));
}

#[tokio::test]
async fn visibility_changes_are_bounded_and_need_the_latest_receipt() {
    let dir = sluice_test_util::scratch("broker", "visibility");
    let clock = Clock::scaled(1.0);
    let b = broker(open_store(&dir), &clock).await;
    b.create_queue("q", &BTreeMap::new(), Vec::new())
        .await
        .unwrap();
    b.send("q", vec![send("m")]).await.unwrap();
    let got = b.receive("q", receive(1, 30)).await.unwrap().remove(0);
    assert!(matches!(
        b.change_visibility("q", &got.receipt_handle, 43_201).await,
        Err(Error::InvalidParameterValue(_))
    ));
    // Back to visible at once.
    b.change_visibility("q", &got.receipt_handle, 0)
        .await
        .unwrap();
    let again = b.receive("q", receive(1, 30)).await.unwrap().remove(0);
    assert_ne!(again.receipt_handle, got.receipt_handle);
    assert!(matches!(
        b.change_visibility("q", &got.receipt_handle, 10).await,
        Err(Error::MessageNotInflight)
    ));
    assert!(matches!(
        b.change_visibility("q", "garbage", 10).await,
        Err(Error::ReceiptHandleIsInvalid(_))
    ));
}

#[tokio::test]
async fn a_retried_fifo_receive_attempt_gets_the_same_messages_until_they_change() {
    let dir = sluice_test_util::scratch("broker", "attempts");
    let clock = Clock::scaled(1.0);
    let b = broker(open_store(&dir), &clock).await;
    b.create_queue(
        "jobs.fifo",
        &attributes(&[("FifoQueue", "true"), ("ContentBasedDeduplication", "true")]),
        Vec::new(),
    )
    .await
    .unwrap();
    let fifo = |body: &str, group: &str| Send {
        group_id: Some(group.into()),
        ..send(body)
    };
    b.send("jobs.fifo", vec![fifo("a", "g1"), fifo("b", "g2")])
        .await
        .unwrap();
    let first = b
        .receive_attempt("jobs.fifo", receive(1, 30), Some("try-1"))
        .await
        .unwrap();
    assert_eq!(first.len(), 1);
    // The retry of the same attempt: the same message and receipt handle, not the next one.
    let retried = b
        .receive_attempt("jobs.fifo", receive(1, 30), Some("try-1"))
        .await
        .unwrap();
    assert_eq!(retried, first);
    // Another attempt gets what is left.
    let other = b
        .receive_attempt("jobs.fifo", receive(1, 30), Some("try-2"))
        .await
        .unwrap();
    assert_eq!(other.len(), 1);
    assert_ne!(other[0].sent.body, first[0].sent.body);
    // Once the message is deleted, the attempt is a new receive (nothing is left).
    b.delete("jobs.fifo", &first[0].receipt_handle)
        .await
        .unwrap();
    let after = b
        .receive_attempt("jobs.fifo", receive(1, 30), Some("try-1"))
        .await
        .unwrap();
    assert!(after.is_empty(), "{after:?}");
}

#[tokio::test]
async fn a_dead_letter_queue_is_of_its_sources_type() {
    let dir = sluice_test_util::scratch("broker", "dlq-type");
    let clock = Clock::scaled(1.0);
    let b = broker(open_store(&dir), &clock).await;
    b.create_queue("dlq", &BTreeMap::new(), Vec::new())
        .await
        .unwrap();
    b.create_queue(
        "dlq.fifo",
        &attributes(&[("FifoQueue", "true")]),
        Vec::new(),
    )
    .await
    .unwrap();
    let redrive = |target: &str| {
        format!(
            r#"{{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:000000000000:{target}","maxReceiveCount":"3"}}"#
        )
    };
    let refused = b
        .create_queue(
            "jobs.fifo",
            &attributes(&[("FifoQueue", "true"), ("RedrivePolicy", &redrive("dlq"))]),
            Vec::new(),
        )
        .await
        .err()
        .expect("a standard dead-letter queue for a FIFO queue is refused");
    assert!(
        refused
            .to_string()
            .ends_with("Reason: Dead-letter queue must be same type of queue as the source."),
        "{refused}"
    );
    b.create_queue("jobs", &BTreeMap::new(), Vec::new())
        .await
        .unwrap();
    assert!(
        b.set_attributes(
            "jobs",
            &attributes(&[("RedrivePolicy", &redrive("dlq.fifo"))])
        )
        .await
        .is_err()
    );
    b.set_attributes("jobs", &attributes(&[("RedrivePolicy", &redrive("dlq"))]))
        .await
        .unwrap();
}
