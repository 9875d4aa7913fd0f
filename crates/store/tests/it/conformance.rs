//! The behaviour every [`Store`] must show, written once against the trait and run on each
//! backend (today: SQLite on real files in a temp dir). The generic `check_*` functions are the
//! suite; the `sqlite_*` tests at the bottom run it and add what is specific to SQLite files
//! (reopening, migrations, the file lock).

use std::collections::BTreeSet;

use crate::common::*;
use sluice_store::ExecutionStatus;
use sluice_store::{
    ActivityRecord, AliasRecord, DedupRecord, Delivery, Error, EventRecord, ExecutionFilter,
    ExecutionRecord, MachineType, MapRunRecord, MessageRecord, QueueRecord, ResourceRecord,
    SCHEMA_VERSION, ShardHead, SqliteOptions, SqliteStore, Store, StreamRead, StreamRecord, Write,
};

async fn check_machines_and_versions<S: Store>(store: &S) {
    // Inserted out of name order; versions must not show up in the machine listing.
    for name in ["charlie", "alpha", "bravo", "delta", "echo"] {
        store
            .commit(vec![Write::PutStateMachine(machine(name))])
            .await
            .unwrap();
    }
    store
        .commit(vec![
            Write::PutStateMachine(version("alpha", 1)),
            Write::PutStateMachine(version("alpha", 2)),
            Write::PutStateMachine(version("bravo", 1)),
        ])
        .await
        .unwrap();

    let alpha = store.state_machine(&machine_arn("alpha")).await.unwrap();
    assert_eq!(alpha, Some(machine("alpha")));
    assert_eq!(
        store.state_machine(&machine_arn("nope")).await.unwrap(),
        None
    );
    let v1 = store
        .state_machine(&format!("{}:1", machine_arn("alpha")))
        .await
        .unwrap();
    assert_eq!(v1, Some(version("alpha", 1)));

    // Replace.
    let mut updated = machine("alpha");
    updated.definition = r#"{"StartAt":"Q","States":{"Q":{"Type":"Succeed"}}}"#.into();
    updated.revision_id = "rev-2".into();
    updated.updated_ms += 1000;
    updated.description = Some("updated".into());
    updated.tags.push(("k".into(), "v".into()));
    updated.extra = None;
    store
        .commit(vec![Write::PutStateMachine(updated.clone())])
        .await
        .unwrap();
    assert_eq!(
        store.state_machine(&updated.arn).await.unwrap(),
        Some(updated)
    );

    // Listing: by name, paged.
    let mut names = Vec::new();
    let mut token: Option<String> = None;
    let mut pages = 0;
    loop {
        let page = store.state_machines("", token.as_deref(), 2).await.unwrap();
        assert!(page.items.len() <= 2);
        names.extend(page.items.into_iter().map(|m| m.name));
        pages += 1;
        match page.next {
            Some(next) => token = Some(next),
            None => break,
        }
    }
    assert_eq!(names, ["alpha", "bravo", "charlie", "delta", "echo"]);
    assert_eq!(pages, 3);
    let all = store.state_machines("", None, 100).await.unwrap();
    assert_eq!(all.items.len(), 5);
    assert_eq!(all.next, None);
    // An exact fit has no next page.
    let five = store.state_machines("", None, 5).await.unwrap();
    assert_eq!((five.items.len(), five.next), (5, None));
    assert_eq!(
        store.state_machines("", Some("garbage"), 2).await,
        Err(Error::InvalidToken)
    );

    // Versions: newest first, only the machine's own.
    let versions = store.versions(&machine_arn("alpha")).await.unwrap();
    assert_eq!(versions, vec![version("alpha", 2), version("alpha", 1)]);
    assert_eq!(
        store.versions(&machine_arn("charlie")).await.unwrap(),
        vec![]
    );

    // Deleting a version deletes only it; deleting a machine takes its versions along.
    store
        .commit(vec![Write::DeleteStateMachine {
            arn: format!("{}:2", machine_arn("alpha")),
        }])
        .await
        .unwrap();
    assert_eq!(
        store.versions(&machine_arn("alpha")).await.unwrap(),
        vec![version("alpha", 1)]
    );
    assert!(
        store
            .state_machine(&machine_arn("alpha"))
            .await
            .unwrap()
            .is_some()
    );
    store
        .commit(vec![Write::DeleteStateMachine {
            arn: machine_arn("alpha"),
        }])
        .await
        .unwrap();
    assert_eq!(
        store.state_machine(&machine_arn("alpha")).await.unwrap(),
        None
    );
    assert_eq!(store.versions(&machine_arn("alpha")).await.unwrap(), vec![]);
    assert_eq!(
        store.versions(&machine_arn("bravo")).await.unwrap(),
        vec![version("bravo", 1)]
    );
    // Deleting what is not there is fine.
    store
        .commit(vec![Write::DeleteStateMachine {
            arn: machine_arn("alpha"),
        }])
        .await
        .unwrap();
}

async fn store_queues_empty(dir: &TempDir) -> bool {
    let store = open(dir);
    let empty = store.queues().await.unwrap().is_empty();
    store.close().await.unwrap();
    empty
}

/// Queues and their messages: sent once, their delivery state changed by receives, deleted
/// one by one, purged, or with their queue.
async fn check_queues<S: Store>(store: &S) {
    let queue = |name: &str| QueueRecord {
        arn: format!("arn:aws:sqs:us-east-1:123456789012:{name}"),
        name: name.to_owned(),
        created_ms: 1,
        modified_ms: 2,
        attributes: r#"{"VisibilityTimeout":"30"}"#.to_owned(),
        tags: vec![("team".into(), "sec".into())],
    };
    let (orders, audit) = (queue("orders"), queue("audit"));
    store
        .commit(vec![
            Write::PutQueue(orders.clone()),
            Write::PutQueue(audit.clone()),
        ])
        .await
        .unwrap();
    assert_eq!(
        store.queues().await.unwrap(),
        [audit.clone(), orders.clone()]
    );
    let message = |queue: &QueueRecord, seq: u64| MessageRecord {
        queue: queue.arn.clone(),
        seq,
        delivery: Delivery {
            visible_ms: 10,
            ..Delivery::default()
        },
        body: format!("body {seq}").into_bytes(),
    };
    let sent: Vec<Write> = (1..=3)
        .map(|seq| Write::SendMessage(message(&orders, seq)))
        .chain([Write::SendMessage(message(&audit, 1))])
        .collect();
    store.commit(sent).await.unwrap();
    // A seq is sent once.
    assert!(matches!(
        store
            .commit(vec![Write::SendMessage(message(&orders, 2))])
            .await,
        Err(Error::Conflict { .. })
    ));
    let received = Delivery {
        visible_ms: 40,
        receive_count: 1,
        first_receive_ms: Some(11),
        receipt: Some("r-1".into()),
    };
    store
        .commit(vec![
            Write::ReceiveMessage {
                queue: orders.arn.clone(),
                seq: 2,
                delivery: received.clone(),
            },
            Write::DeleteMessage {
                queue: orders.arn.clone(),
                seq: 1,
            },
            // Gone already: not an error.
            Write::DeleteMessage {
                queue: orders.arn.clone(),
                seq: 9,
            },
        ])
        .await
        .unwrap();
    let left = store.messages(&orders.arn).await.unwrap();
    assert_eq!(left.iter().map(|m| m.seq).collect::<Vec<_>>(), [2, 3]);
    assert_eq!(left[0].delivery, received);
    assert_eq!(left[0].body, b"body 2");
    assert_eq!(left[1], message(&orders, 3));
    // Deduplication records: read until they expire, forgotten once expired.
    let dedup = |key: &str, expires_ms: i64| DedupRecord {
        queue: orders.arn.clone(),
        key: key.to_owned(),
        message_id: format!("id-{key}"),
        sequence: 7,
        expires_ms,
    };
    for (record, now_ms) in [
        (dedup("a", 100), 0),
        (dedup("b", 300), 0),
        (dedup("c", 400), 150),
    ] {
        store
            .commit(vec![Write::PutDedup { record, now_ms }])
            .await
            .unwrap();
    }
    let keys =
        |records: Vec<DedupRecord>| records.into_iter().map(|r| r.key).collect::<BTreeSet<_>>();
    assert_eq!(
        keys(store.dedup(&orders.arn, 0).await.unwrap()),
        ["b", "c"].map(String::from).into()
    );
    assert_eq!(
        keys(store.dedup(&orders.arn, 350).await.unwrap()),
        ["c"].map(String::from).into()
    );
    // A queue's settings change without touching its messages.
    let mut changed = orders.clone();
    changed.attributes = r#"{"VisibilityTimeout":"60"}"#.into();
    store.commit(vec![Write::PutQueue(changed)]).await.unwrap();
    assert_eq!(store.messages(&orders.arn).await.unwrap().len(), 2);
    store
        .commit(vec![Write::PurgeQueue {
            queue: orders.arn.clone(),
        }])
        .await
        .unwrap();
    assert!(store.messages(&orders.arn).await.unwrap().is_empty());
    assert_eq!(store.messages(&audit.arn).await.unwrap().len(), 1);
    store
        .commit(vec![Write::DeleteQueue {
            arn: audit.arn.clone(),
        }])
        .await
        .unwrap();
    assert!(store.messages(&audit.arn).await.unwrap().is_empty());
    assert_eq!(
        store
            .queues()
            .await
            .unwrap()
            .into_iter()
            .map(|q| q.name)
            .collect::<Vec<_>>(),
        ["orders"]
    );
}

/// A listing sees one region's (and account's) machines: the ARN prefix it is given.
async fn check_machines_by_region<S: Store>(store: &S) {
    let mut writes = Vec::new();
    for (region, name) in [
        ("us-east-1", "a"),
        ("us-west-2", "b"),
        ("us-east-1", "c"),
        ("us-west-2", "d"),
        ("us-east-1", "e"),
    ] {
        let mut record = machine(name);
        record.arn = format!("arn:aws:states:{region}:123456789012:stateMachine:{name}");
        writes.push(Write::PutStateMachine(record));
    }
    store.commit(writes).await.unwrap();
    let list = |prefix: &'static str| async move {
        let mut names = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = store
                .state_machines(prefix, token.as_deref(), 1)
                .await
                .unwrap();
            names.extend(page.items.into_iter().map(|m| m.name));
            match page.next {
                Some(next) => token = Some(next),
                None => return names,
            }
        }
    };
    assert_eq!(
        list("arn:aws:states:us-east-1:123456789012:stateMachine:").await,
        ["a", "c", "e"]
    );
    assert_eq!(
        list("arn:aws:states:us-west-2:123456789012:stateMachine:").await,
        ["b", "d"]
    );
    assert!(
        list("arn:aws:states:us-east-1:999999999999:stateMachine:")
            .await
            .is_empty()
    );
    assert_eq!(list("").await, ["a", "b", "c", "d", "e"]);
}

async fn check_execution_insert_update<S: Store>(store: &S) {
    let original = execution("m", "e1", 10);
    store
        .commit(vec![Write::InsertExecution(original.clone())])
        .await
        .unwrap();
    assert_eq!(
        store.execution(&original.arn).await.unwrap(),
        Some(original.clone())
    );

    let mut again = original.clone();
    again.input = "{}".into();
    let conflict = store.commit(vec![Write::InsertExecution(again)]).await;
    assert!(
        matches!(conflict, Err(Error::Conflict { .. })),
        "{conflict:?}"
    );
    assert_eq!(
        store.execution(&original.arn).await.unwrap(),
        Some(original.clone())
    );

    let missing = execution("m", "missing", 10);
    let not_found = store
        .commit(vec![Write::UpdateExecution(missing.clone())])
        .await;
    assert!(
        matches!(not_found, Err(Error::NotFound { .. })),
        "{not_found:?}"
    );
    assert_eq!(store.execution(&missing.arn).await.unwrap(), None);

    let mut done = original.clone();
    done.status = ExecutionStatus::Succeeded;
    done.output = Some(r#"{"ok":true}"#.into());
    done.stop_ms = Some(99);
    done.snapshot = None;
    done.next_event_id = 7;
    done.redrive_count = 2;
    done.redrive_ms = Some(77);
    done.revision_id = "rev-other".into();
    done.error = Some("E".into());
    done.cause = Some("C".into());
    store
        .commit(vec![Write::UpdateExecution(done.clone())])
        .await
        .unwrap();
    assert_eq!(store.execution(&original.arn).await.unwrap(), Some(done));

    // An empty commit is fine.
    store.commit(vec![]).await.unwrap();
}

async fn check_events<S: Store>(store: &S) {
    let a = execution_arn("m", "a");
    let b = execution_arn("m", "b");
    // History belongs to an execution that exists: inserted earlier in the same commit works,
    // appending first does not (and leaves nothing behind).
    store
        .commit(vec![
            Write::InsertExecution(execution("m", "a", 1)),
            Write::AppendEvents(events(&a, 1..=3)),
        ])
        .await
        .unwrap();
    let orphan = store
        .commit(vec![
            Write::AppendEvents(events(&b, [1])),
            Write::InsertExecution(execution("m", "b", 2)),
        ])
        .await;
    assert!(matches!(orphan, Err(Error::NotFound { .. })), "{orphan:?}");
    assert_eq!(store.execution(&b).await.unwrap(), None);
    store
        .commit(vec![
            Write::InsertExecution(execution("m", "b", 2)),
            Write::AppendEvents(events(&b, [1])),
        ])
        .await
        .unwrap();
    store
        .commit(vec![Write::AppendEvents(events(&a, 4..=5))])
        .await
        .unwrap();

    // The exactly-once guard: an id already recorded, or repeated within one write.
    let duplicate = store
        .commit(vec![Write::AppendEvents(events(&a, [6, 3]))])
        .await;
    assert!(
        matches!(duplicate, Err(Error::Conflict { .. })),
        "{duplicate:?}"
    );
    let repeated = store
        .commit(vec![Write::AppendEvents(events(&a, [6, 7, 6]))])
        .await;
    assert!(
        matches!(repeated, Err(Error::Conflict { .. })),
        "{repeated:?}"
    );

    let ids = |page: &sluice_store::Page<sluice_store::EventRecord>| {
        page.items.iter().map(|e| e.id).collect::<Vec<_>>()
    };
    let all = store.events(&a, None, 100, false).await.unwrap();
    assert_eq!(ids(&all), [1, 2, 3, 4, 5]);
    assert_eq!(all.items[2], event(&a, 3));
    assert_eq!(all.next, None);
    let reversed = store.events(&a, None, 100, true).await.unwrap();
    assert_eq!(ids(&reversed), [5, 4, 3, 2, 1]);
    assert_eq!(ids(&store.events(&b, None, 100, false).await.unwrap()), [1]);
    assert!(
        store
            .events(&execution_arn("m", "none"), None, 10, false)
            .await
            .unwrap()
            .items
            .is_empty()
    );

    // Paging by id.
    assert_eq!(
        ids(&store.events(&a, Some(2), 2, false).await.unwrap()),
        [3, 4]
    );
    assert_eq!(
        ids(&store.events(&a, Some(4), 10, true).await.unwrap()),
        [3, 2, 1]
    );
    assert_eq!(
        ids(&store.events(&a, Some(5), 10, false).await.unwrap()),
        [] as [u64; 0]
    );
    assert_eq!(
        ids(&store.events(&a, Some(1), 10, true).await.unwrap()),
        [] as [u64; 0]
    );

    // Paging by token, both directions.
    for (reverse, expected) in [(false, vec![1, 2, 3, 4, 5]), (true, vec![5, 4, 3, 2, 1])] {
        let mut seen = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = store
                .events_page(&a, token.as_deref(), 2, reverse)
                .await
                .unwrap();
            seen.extend(ids(&page));
            match page.next {
                Some(next) => token = Some(next),
                None => break,
            }
        }
        assert_eq!(seen, expected, "reverse={reverse}");
    }
    let first = store.events(&a, None, 2, false).await.unwrap();
    let token = first.next.expect("a next page");
    assert_eq!(
        ids(&store.events_page(&a, Some(&token), 2, false).await.unwrap()),
        [3, 4]
    );
    // A token belongs to its execution and its direction.
    assert_eq!(
        store.events_page(&a, Some("not a token"), 2, false).await,
        Err(Error::InvalidToken)
    );
    assert_eq!(
        store.events_page(&b, Some(&token), 2, false).await,
        Err(Error::InvalidToken)
    );
    assert_eq!(
        store.events_page(&a, Some(&token), 2, true).await,
        Err(Error::InvalidToken)
    );
    let machines_token = {
        for name in ["x", "y"] {
            store
                .commit(vec![Write::PutStateMachine(machine(name))])
                .await
                .unwrap();
        }
        store
            .state_machines("", None, 1)
            .await
            .unwrap()
            .next
            .unwrap()
    };
    assert_eq!(
        store.events_page(&a, Some(&machines_token), 2, false).await,
        Err(Error::InvalidToken)
    );
    assert_eq!(
        store.state_machines("", Some(&token), 2).await,
        Err(Error::InvalidToken)
    );
    // Limit 0 still makes progress.
    assert_eq!(
        store.events(&a, None, 0, false).await.unwrap().items.len(),
        1
    );
}

async fn check_executions_listing<S: Store>(store: &S) {
    // (machine, name, start, status); two share a start time: ties go by ARN, descending.
    let rows = [
        ("m1", "a", 100, "RUNNING"),
        ("m1", "b", 300, "SUCCEEDED"),
        ("m2", "c", 200, "RUNNING"),
        ("m2", "d", 300, "FAILED"),
        ("m1", "e", 50, "RUNNING"),
        ("m2", "f", 400, "SUCCEEDED"),
        ("m1", "g", 300, "RUNNING"),
    ];
    let mut writes = Vec::new();
    for (machine, name, start, status) in rows {
        let mut record = execution(machine, name, start);
        record.status = status.parse().unwrap();
        writes.push(Write::InsertExecution(record));
    }
    store.commit(writes).await.unwrap();

    let list = |filter: ExecutionFilter, limit: usize| async move {
        let mut names = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = store
                .executions(filter.clone(), token.as_deref(), limit)
                .await
                .unwrap();
            assert!(page.items.len() <= limit.max(1));
            names.extend(page.items.iter().map(|e| e.name.clone()));
            match page.next {
                Some(next) => token = Some(next),
                None => break,
            }
        }
        names
    };
    let by_machine = |arn: &str| ExecutionFilter {
        state_machine_arn: Some(machine_arn(arn)),
        ..ExecutionFilter::default()
    };
    let by_status = |status: &str| ExecutionFilter {
        status: Some(status.parse().unwrap()),
        ..ExecutionFilter::default()
    };
    // Newest first; among the three at 300, ARN descending: m2:d, m1:g, m1:b.
    let everything = ["f", "d", "g", "b", "c", "a", "e"];
    for limit in [1, 2, 3, 100] {
        assert_eq!(list(ExecutionFilter::default(), limit).await, everything);
    }
    assert_eq!(list(by_machine("m1"), 2).await, ["g", "b", "a", "e"]);
    assert_eq!(list(by_machine("m2"), 1).await, ["f", "d", "c"]);
    assert_eq!(list(by_status("RUNNING"), 2).await, ["g", "c", "a", "e"]);
    let both = ExecutionFilter {
        state_machine_arn: Some(machine_arn("m1")),
        status: Some(ExecutionStatus::Running),
        redriven: None,
    };
    assert_eq!(list(both.clone(), 1).await, ["g", "a", "e"]);
    assert!(list(by_machine("m3"), 5).await.is_empty());

    // Tokens belong to their filter.
    let page = store.executions(both.clone(), None, 1).await.unwrap();
    let token = page.next.unwrap();
    assert_eq!(
        store
            .executions(ExecutionFilter::default(), Some(&token), 1)
            .await,
        Err(Error::InvalidToken)
    );
    assert_eq!(
        store.executions(both, Some("sl1zz"), 1).await,
        Err(Error::InvalidToken)
    );

    // running(): RUNNING only, oldest first.
    let running: Vec<_> = store
        .running()
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.name)
        .collect();
    assert_eq!(running, ["e", "a", "c", "g"]);
}

async fn check_timers_and_delete<S: Store>(store: &S) {
    let a = execution_arn("m", "a");
    let b = execution_arn("m", "b");
    store
        .commit(vec![
            Write::InsertExecution(execution("m", "a", 1)),
            Write::InsertExecution(execution("m", "b", 2)),
            Write::AppendEvents(events(&a, 1..=2)),
            Write::AppendEvents(events(&b, 1..=2)),
            Write::PutTimer(timer(&a, "wait", 500)),
            Write::PutTimer(timer(&a, "retry", 100)),
            Write::PutTimer(timer(&b, "wait", 300)),
        ])
        .await
        .unwrap();
    let keys = |timers: Vec<sluice_store::TimerRecord>| {
        timers
            .into_iter()
            .map(|t| (t.execution_arn, t.key, t.due_ms))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        keys(store.timers().await.unwrap()),
        [
            (a.clone(), "retry".to_owned(), 100),
            (b.clone(), "wait".to_owned(), 300),
            (a.clone(), "wait".to_owned(), 500),
        ]
    );

    // Upsert by (execution, key).
    let mut moved = timer(&a, "wait", 50);
    moved.payload = r#"{"moved":true}"#.into();
    store
        .commit(vec![Write::PutTimer(moved.clone())])
        .await
        .unwrap();
    let timers = store.timers().await.unwrap();
    assert_eq!(timers.len(), 3);
    assert_eq!(timers[0], moved);

    store
        .commit(vec![
            Write::DeleteTimer {
                execution_arn: a.clone(),
                key: "retry".into(),
            },
            Write::DeleteTimer {
                execution_arn: a.clone(),
                key: "never-set".into(),
            },
        ])
        .await
        .unwrap();
    assert_eq!(
        keys(store.timers().await.unwrap()),
        [
            (a.clone(), "wait".to_owned(), 50),
            (b.clone(), "wait".to_owned(), 300)
        ]
    );

    // Deleting an execution takes its events and timers along, and nothing else.
    store
        .commit(vec![Write::DeleteExecution { arn: a.clone() }])
        .await
        .unwrap();
    assert_eq!(store.execution(&a).await.unwrap(), None);
    assert!(
        store
            .events(&a, None, 10, false)
            .await
            .unwrap()
            .items
            .is_empty()
    );
    assert_eq!(
        keys(store.timers().await.unwrap()),
        [(b.clone(), "wait".to_owned(), 300)]
    );
    assert!(store.execution(&b).await.unwrap().is_some());
    assert_eq!(
        store.events(&b, None, 10, false).await.unwrap().items.len(),
        2
    );
    store
        .commit(vec![Write::DeleteExecution { arn: a.clone() }])
        .await
        .unwrap();
    // The same ARN inserted again starts with an empty history.
    store
        .commit(vec![
            Write::InsertExecution(execution("m", "a", 3)),
            Write::AppendEvents(events(&a, [1])),
        ])
        .await
        .unwrap();
    assert_eq!(
        store.events(&a, None, 10, false).await.unwrap().items,
        events(&a, [1])
    );
}

/// Many commits at once, every third doomed by a conflict in its *last* write: each doomed
/// commit leaves nothing behind, every other commit lands whole.
async fn check_atomicity<S: Store>(store: &S) {
    let taken = execution("m", "taken", 1);
    store
        .commit(vec![Write::InsertExecution(taken.clone())])
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for n in 0..60u64 {
        let store = store.clone();
        let taken = taken.clone();
        tasks.push(tokio::spawn(async move {
            let arn = execution_arn("m", &format!("x{n}"));
            let mut writes = vec![
                Write::InsertExecution(execution("m", &format!("x{n}"), 10 + n as i64)),
                Write::AppendEvents(events(&arn, 1..=3)),
                Write::PutTimer(timer(&arn, "t", 5)),
            ];
            if n % 3 == 0 {
                writes.push(Write::InsertExecution(taken));
            }
            (n, store.commit(writes).await)
        }));
    }
    for task in tasks {
        let (n, result) = task.await.unwrap();
        let arn = execution_arn("m", &format!("x{n}"));
        let execution = store.execution(&arn).await.unwrap();
        let events = store.events(&arn, None, 10, false).await.unwrap().items;
        let has_timer = store
            .timers()
            .await
            .unwrap()
            .iter()
            .any(|t| t.execution_arn == arn);
        if n % 3 == 0 {
            assert!(
                matches!(result, Err(Error::Conflict { .. })),
                "{n}: {result:?}"
            );
            assert_eq!(
                (execution, events.len(), has_timer),
                (None, 0, false),
                "{n}"
            );
        } else {
            assert_eq!(result, Ok(()), "{n}");
            assert!(execution.is_some() && events.len() == 3 && has_timer, "{n}");
        }
    }
    assert_eq!(store.execution(&taken.arn).await.unwrap(), Some(taken));
}

/// Reads see every commit that resolved before them.
async fn check_read_your_writes<S: Store>(store: &S) {
    let mut record = execution("m", "ryw", 1);
    store
        .commit(vec![Write::InsertExecution(record.clone())])
        .await
        .unwrap();
    for n in 1..=50u64 {
        record.next_event_id = n + 1;
        store
            .commit(vec![
                Write::UpdateExecution(record.clone()),
                Write::AppendEvents(events(&record.arn, [n])),
            ])
            .await
            .unwrap();
        let read = store.execution(&record.arn).await.unwrap().unwrap();
        assert_eq!(read.next_event_id, n + 1);
        let last = store.events(&record.arn, None, 1, true).await.unwrap();
        assert_eq!(last.items[0].id, n);
    }
}

async fn check_revisions<S: Store>(store: &S) {
    let arn = machine_arn("alpha");
    let first = machine("alpha");
    store
        .commit(vec![Write::PutStateMachine(first.clone())])
        .await
        .unwrap();
    // The revision, as the machine had it.
    let expected = |record: &sluice_store::StateMachineRecord| {
        let mut expected = record.clone();
        expected.version = None;
        expected.arn = arn.clone();
        expected
    };
    assert_eq!(
        store.revision(&arn, "rev-alpha").await.unwrap(),
        Some(expected(&first))
    );
    assert_eq!(store.revision(&arn, "rev-none").await.unwrap(), None);
    assert_eq!(
        store
            .revision(&machine_arn("beta"), "rev-alpha")
            .await
            .unwrap(),
        None
    );

    // Update the machine (a new revision) and publish it as a version: both revisions stay
    // readable, each with its own definition and role.
    let mut second = first.clone();
    second.definition = r#"{"StartAt":"S","States":{"S":{"Type":"Succeed"}}}"#.into();
    second.role_arn = "arn:aws:iam::123456789012:role/other".into();
    second.revision_id = "rev-2".into();
    second.updated_ms += 5000;
    second.tags = vec![("k".into(), "v".into())];
    let mut v1 = second.clone();
    v1.arn = format!("{arn}:1");
    v1.version = Some(1);
    v1.description = Some("version 1".into());
    store
        .commit(vec![
            Write::PutStateMachine(second.clone()),
            Write::PutStateMachine(v1.clone()),
        ])
        .await
        .unwrap();
    let old = store.revision(&arn, "rev-alpha").await.unwrap().unwrap();
    assert_eq!(old.definition, first.definition);
    assert_eq!(old.role_arn, first.role_arn);
    assert_eq!(old.updated_ms, first.updated_ms, "when it was recorded");
    // The machine's other fields are its current ones.
    assert_eq!(old.tags, second.tags);
    assert_eq!(old.created_ms, first.created_ms);
    assert_eq!(
        store.revision(&arn, "rev-2").await.unwrap(),
        Some(expected(&second))
    );
    // A revision is recorded once: a later put with the same id does not rewrite it.
    let mut same_id = second.clone();
    same_id.definition = r#"{"StartAt":"F","States":{"F":{"Type":"Fail"}}}"#.into();
    store
        .commit(vec![Write::PutStateMachine(same_id)])
        .await
        .unwrap();
    assert_eq!(
        store
            .revision(&arn, "rev-2")
            .await
            .unwrap()
            .unwrap()
            .definition,
        second.definition
    );
    // A version put on its own records its revision too.
    let mut v2 = version("alpha", 2);
    v2.revision_id = "rev-v2".into();
    store
        .commit(vec![Write::PutStateMachine(v2.clone())])
        .await
        .unwrap();
    let from_version = store.revision(&arn, "rev-v2").await.unwrap().unwrap();
    assert_eq!(
        (from_version.machine_type, from_version.definition.as_str()),
        (MachineType::Express, v2.definition.as_str())
    );

    // Deleting the machine keeps its revisions: executions may still run them.
    store
        .commit(vec![Write::DeleteStateMachine { arn: arn.clone() }])
        .await
        .unwrap();
    let orphan = store.revision(&arn, "rev-alpha").await.unwrap().unwrap();
    assert_eq!(orphan.definition, first.definition);
    assert_eq!(orphan.name, "alpha");
    assert_eq!(orphan.machine_type, MachineType::Standard);
    assert_eq!((orphan.tags, orphan.extra), (vec![], None));
    assert_eq!(orphan.created_ms, first.updated_ms);
}

fn alias(machine: &str, name: &str, routing: &[(u64, u32)]) -> AliasRecord {
    AliasRecord {
        arn: format!("{}:{name}", machine_arn(machine)),
        machine_arn: machine_arn(machine),
        name: name.to_owned(),
        description: Some(format!("alias {name}")),
        routing: routing
            .iter()
            .map(|(v, w)| (format!("{}:{v}", machine_arn(machine)), *w))
            .collect(),
        created_ms: 10,
        updated_ms: 20,
    }
}

async fn check_aliases<S: Store>(store: &S) {
    store
        .commit(vec![
            Write::PutStateMachine(machine("alpha")),
            Write::PutStateMachine(version("alpha", 1)),
            Write::PutStateMachine(version("alpha", 2)),
            Write::PutStateMachine(machine("bravo")),
            Write::PutStateMachine(version("bravo", 1)),
        ])
        .await
        .unwrap();
    let prod = alias("alpha", "prod", &[(1, 100)]);
    let canary = alias("alpha", "canary", &[(1, 90), (2, 10)]);
    let other = alias("bravo", "prod", &[(1, 100)]);
    store
        .commit(vec![
            Write::PutAlias(prod.clone()),
            Write::PutAlias(canary.clone()),
            Write::PutAlias(other.clone()),
        ])
        .await
        .unwrap();
    assert_eq!(store.alias(&prod.arn).await.unwrap(), Some(prod.clone()));
    assert_eq!(
        store.alias(&canary.arn).await.unwrap(),
        Some(canary.clone())
    );
    assert_eq!(
        store
            .alias(&format!("{}:nope", machine_arn("alpha")))
            .await
            .unwrap(),
        None
    );
    // By name, only the machine's own.
    assert_eq!(
        store.aliases(&machine_arn("alpha")).await.unwrap(),
        vec![canary.clone(), prod.clone()]
    );
    assert_eq!(
        store.aliases(&machine_arn("bravo")).await.unwrap(),
        vec![other.clone()]
    );
    assert_eq!(store.aliases(&machine_arn("none")).await.unwrap(), vec![]);

    // Replace.
    let mut moved = canary.clone();
    moved.routing = vec![(format!("{}:2", machine_arn("alpha")), 100)];
    moved.description = None;
    moved.updated_ms = 30;
    store
        .commit(vec![Write::PutAlias(moved.clone())])
        .await
        .unwrap();
    assert_eq!(store.alias(&canary.arn).await.unwrap(), Some(moved.clone()));

    // Deleting a version leaves aliases alone (the API refuses it while one routes there).
    store
        .commit(vec![Write::DeleteStateMachine {
            arn: format!("{}:1", machine_arn("alpha")),
        }])
        .await
        .unwrap();
    assert_eq!(store.aliases(&machine_arn("alpha")).await.unwrap().len(), 2);

    // Delete one; deleting a missing one is fine.
    store
        .commit(vec![
            Write::DeleteAlias {
                arn: prod.arn.clone(),
            },
            Write::DeleteAlias {
                arn: prod.arn.clone(),
            },
        ])
        .await
        .unwrap();
    assert_eq!(store.alias(&prod.arn).await.unwrap(), None);
    assert_eq!(
        store.aliases(&machine_arn("alpha")).await.unwrap(),
        vec![moved.clone()]
    );

    // Deleting a machine takes its aliases along, and nobody else's.
    store
        .commit(vec![Write::DeleteStateMachine {
            arn: machine_arn("alpha"),
        }])
        .await
        .unwrap();
    assert_eq!(store.aliases(&machine_arn("alpha")).await.unwrap(), vec![]);
    assert_eq!(store.alias(&moved.arn).await.unwrap(), None);
    assert_eq!(
        store.aliases(&machine_arn("bravo")).await.unwrap(),
        vec![other]
    );
}

/// Executions of a machine, of its versions and through its aliases; the redrive filter.
async fn check_execution_scopes<S: Store>(store: &S) {
    let v = |machine: &str, n: u64| format!("{}:{n}", machine_arn(machine));
    let a = |machine: &str, name: &str| format!("{}:{name}", machine_arn(machine));
    // (name, start, run as, alias, redrives)
    let rows: [(&str, i64, String, Option<String>, u32); 7] = [
        ("plain", 10, machine_arn("m1"), None, 0),
        ("v1", 20, v("m1", 1), None, 1),
        ("v2", 30, v("m1", 2), None, 0),
        ("live-1", 40, v("m1", 1), Some(a("m1", "live")), 0),
        ("live-2", 50, v("m1", 2), Some(a("m1", "live")), 2),
        ("beta", 60, v("m1", 2), Some(a("m1", "beta")), 0),
        ("other", 70, v("m2", 1), Some(a("m2", "live")), 1),
    ];
    let mut writes = Vec::new();
    for (name, start, arn, alias_arn, redrives) in &rows {
        let machine = if name == &"other" { "m2" } else { "m1" };
        let mut record = execution(machine, name, *start);
        record.state_machine_arn = arn.clone();
        record.alias_arn = alias_arn.clone();
        record.redrive_count = *redrives;
        record.redrive_ms = (*redrives > 0).then_some(start + 1);
        writes.push(Write::InsertExecution(record));
    }
    store.commit(writes).await.unwrap();
    let stored = store
        .execution(&execution_arn("m1", "live-2"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.alias_arn, Some(a("m1", "live")));
    assert_eq!(stored.state_machine_arn, v("m1", 2));
    assert_eq!(stored.machine_arn(), machine_arn("m1"));
    assert_eq!(stored.redrive_ms, Some(51));

    let list = |filter: ExecutionFilter, limit: usize| async move {
        let mut names = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = store
                .executions(filter.clone(), token.as_deref(), limit)
                .await
                .unwrap();
            names.extend(page.items.iter().map(|e| e.name.clone()));
            match page.next {
                Some(next) => token = Some(next),
                None => break,
            }
        }
        names
    };
    let scope = |arn: String, redriven: Option<bool>| ExecutionFilter {
        state_machine_arn: Some(arn),
        status: None,
        redriven,
    };
    for limit in [1, 2, 100] {
        assert_eq!(
            list(scope(machine_arn("m1"), None), limit).await,
            ["beta", "live-2", "live-1", "v2", "v1", "plain"]
        );
        assert_eq!(
            list(scope(v("m1", 2), None), limit).await,
            ["beta", "live-2", "v2"]
        );
        assert_eq!(list(scope(v("m1", 1), None), limit).await, ["live-1", "v1"]);
        assert_eq!(
            list(scope(a("m1", "live"), None), limit).await,
            ["live-2", "live-1"]
        );
        assert_eq!(list(scope(a("m1", "beta"), None), limit).await, ["beta"]);
        assert_eq!(list(scope(machine_arn("m2"), None), limit).await, ["other"]);
        assert_eq!(
            list(scope(machine_arn("m1"), Some(true)), limit).await,
            ["live-2", "v1"]
        );
        assert_eq!(
            list(scope(machine_arn("m1"), Some(false)), limit).await,
            ["beta", "live-1", "v2", "plain"]
        );
        let redriven = ExecutionFilter {
            redriven: Some(true),
            ..ExecutionFilter::default()
        };
        assert_eq!(list(redriven, limit).await, ["other", "live-2", "v1"]);
    }
    assert!(list(scope(v("m1", 3), None), 5).await.is_empty());
    assert!(list(scope(a("m1", "gone"), None), 5).await.is_empty());

    // A token belongs to its scope and its redrive filter.
    let token = store
        .executions(scope(machine_arn("m1"), None), None, 1)
        .await
        .unwrap()
        .next
        .unwrap();
    for other in [
        scope(machine_arn("m1"), Some(true)),
        scope(machine_arn("m1"), Some(false)),
        scope(a("m1", "live"), None),
        scope(v("m1", 1), None),
    ] {
        assert_eq!(
            store.executions(other, Some(&token), 1).await,
            Err(Error::InvalidToken)
        );
    }

    // Updates move an execution between listings: a redrive, another alias and version.
    let mut record = store
        .execution(&execution_arn("m1", "plain"))
        .await
        .unwrap()
        .unwrap();
    record.redrive_count = 1;
    record.redrive_ms = Some(99);
    record.status = ExecutionStatus::Running;
    store
        .commit(vec![Write::UpdateExecution(record.clone())])
        .await
        .unwrap();
    assert_eq!(
        list(scope(machine_arn("m1"), Some(true)), 2).await,
        ["live-2", "v1", "plain"]
    );
    record.state_machine_arn = v("m1", 1);
    record.alias_arn = Some(a("m1", "beta"));
    store
        .commit(vec![Write::UpdateExecution(record.clone())])
        .await
        .unwrap();
    assert_eq!(
        store.execution(&record.arn).await.unwrap(),
        Some(record.clone())
    );
    assert_eq!(
        list(scope(a("m1", "beta"), None), 2).await,
        ["beta", "plain"]
    );
    assert_eq!(
        list(scope(v("m1", 1), None), 2).await,
        ["live-1", "v1", "plain"]
    );
    record.alias_arn = None;
    store
        .commit(vec![Write::UpdateExecution(record.clone())])
        .await
        .unwrap();
    assert_eq!(list(scope(a("m1", "beta"), None), 2).await, ["beta"]);
    assert_eq!(store.execution(&record.arn).await.unwrap(), Some(record));
}

async fn check_map_runs<S: Store>(store: &S) {
    let a = execution_arn("m", "a");
    let b = execution_arn("m", "b");
    let run = |arn: &str, execution: &str, start_ms: i64, body: &str| MapRunRecord {
        arn: arn.into(),
        execution_arn: execution.into(),
        start_ms,
        body: body.into(),
    };
    store
        .commit(vec![
            Write::InsertExecution(execution("m", "a", 1)),
            Write::InsertExecution(execution("m", "b", 2)),
            Write::PutMapRun(run("run-1", &a, 10, r#"{"n":1}"#)),
            Write::PutMapRun(run("run-2", &a, 20, r#"{"n":2}"#)),
            Write::PutMapRun(run("run-3", &b, 15, r#"{"n":3}"#)),
        ])
        .await
        .unwrap();
    let arns = |runs: Vec<MapRunRecord>| runs.into_iter().map(|r| r.arn).collect::<Vec<_>>();
    assert_eq!(
        arns(store.map_runs(&a).await.unwrap()),
        ["run-2", "run-1"],
        "newest first"
    );
    assert_eq!(arns(store.map_runs(&b).await.unwrap()), ["run-3"]);
    assert!(store.map_runs("nope").await.unwrap().is_empty());

    // Upsert by ARN.
    let changed = run("run-1", &a, 10, r#"{"n":"changed"}"#);
    store
        .commit(vec![Write::PutMapRun(changed.clone())])
        .await
        .unwrap();
    assert_eq!(store.map_run("run-1").await.unwrap(), Some(changed));
    assert_eq!(store.map_run("run-9").await.unwrap(), None);

    // A failed commit leaves no Map Run behind.
    let refused = store
        .commit(vec![
            Write::PutMapRun(run("run-4", &a, 30, "{}")),
            Write::InsertExecution(execution("m", "a", 1)),
        ])
        .await;
    assert!(refused.is_err());
    assert_eq!(store.map_run("run-4").await.unwrap(), None);

    // Deleting an execution takes its Map Runs.
    store
        .commit(vec![Write::DeleteExecution { arn: a.clone() }])
        .await
        .unwrap();
    assert!(store.map_runs(&a).await.unwrap().is_empty());
    assert_eq!(store.map_run("run-2").await.unwrap(), None);
    assert_eq!(arns(store.map_runs(&b).await.unwrap()), ["run-3"]);
}

/// A closed execution of `machine` that stopped at `stop_ms`.
fn closed(machine: &str, name: &str, status: &str, stop_ms: i64) -> ExecutionRecord {
    let mut record = execution(machine, name, stop_ms - 1);
    record.status = status.parse().unwrap();
    record.stop_ms = Some(stop_ms);
    record
}

/// The retention's purge: closed executions that stopped before the cutoff go, oldest first and
/// `limit` at a time, with everything that belongs to them; open ones and younger ones stay.
async fn check_purge<S: Store>(store: &S) {
    let arn = |name: &str| execution_arn("m", name);
    let mut redriven = closed("m", "redriven", "FAILED", 20);
    let old = [
        closed("m", "succeeded", "SUCCEEDED", 100),
        closed("m", "aborted", "ABORTED", 120),
        closed("m", "timed-out", "TIMED_OUT", 150),
        closed("m", "failed", "FAILED", 200),
    ];
    let mut open = vec![
        execution("m", "running", 0),
        // Open whatever their stop time says.
        closed("m", "running-stopped", "RUNNING", 10),
        closed("m", "pending", "PENDING_REDRIVE", 10),
        redriven.clone(),
    ];
    open[1].status = ExecutionStatus::Running;
    let young = closed("m", "young", "SUCCEEDED", 1_000);
    let mut writes = vec![Write::PutStateMachine(machine("m"))];
    for record in old.iter().chain(&open).chain([&young]) {
        writes.push(Write::InsertExecution(record.clone()));
        writes.push(Write::AppendEvents(events(&record.arn, 1..=3)));
        writes.push(Write::PutTimer(timer(&record.arn, "wait", 5)));
        writes.push(Write::PutMapRun(MapRunRecord {
            arn: format!("{}:run", record.arn),
            execution_arn: record.arn.clone(),
            start_ms: 1,
            body: "{}".into(),
        }));
    }
    store.commit(writes).await.unwrap();
    // More history in a later commit (a row of its own, not the execution's).
    store
        .commit(vec![Write::AppendEvents(events(&arn("succeeded"), 4..=6))])
        .await
        .unwrap();
    // Redriven after it failed: RUNNING again, no stop time.
    redriven.status = ExecutionStatus::Running;
    redriven.stop_ms = None;
    redriven.redrive_count = 1;
    store
        .commit(vec![Write::UpdateExecution(redriven)])
        .await
        .unwrap();

    assert_eq!(
        store.purge_closed(500, 2).await.unwrap(),
        [arn("succeeded"), arn("aborted")],
        "oldest stop first, at most the limit"
    );
    assert_eq!(
        store.purge_closed(500, 10).await.unwrap(),
        [arn("timed-out"), arn("failed")]
    );
    assert_eq!(
        store.purge_closed(500, 10).await.unwrap(),
        Vec::<String>::new()
    );

    for record in &old {
        assert_eq!(store.execution(&record.arn).await.unwrap(), None);
        assert!(
            store
                .events(&record.arn, None, 10, false)
                .await
                .unwrap()
                .items
                .is_empty()
        );
        assert!(store.map_runs(&record.arn).await.unwrap().is_empty());
        assert_eq!(
            store.map_run(&format!("{}:run", record.arn)).await.unwrap(),
            None
        );
    }
    let listed: BTreeSet<String> = store
        .executions(ExecutionFilter::default(), None, 100)
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|e| e.arn)
        .collect();
    let kept: BTreeSet<String> = open.iter().chain([&young]).map(|e| e.arn.clone()).collect();
    assert_eq!(listed, kept);
    let timers: BTreeSet<String> = store
        .timers()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.execution_arn)
        .collect();
    assert_eq!(timers, kept, "timers go with their executions");
    for arn in &kept {
        assert_eq!(
            store.events(arn, None, 10, false).await.unwrap().items,
            events(arn, 1..=3)
        );
        assert_eq!(store.map_runs(arn).await.unwrap().len(), 1);
    }
    assert_eq!(store.running().await.unwrap().len(), 3);

    // Ordered with commits: an execution that closes in a commit issued just before the purge
    // is purged by it.
    let mut closing = store.execution(&arn("running")).await.unwrap().unwrap();
    closing.status = ExecutionStatus::Succeeded;
    closing.stop_ms = Some(300);
    let close = vec![Write::UpdateExecution(closing)];
    let (committed, purged) = tokio::join!(store.commit(close), store.purge_closed(500, 10));
    committed.unwrap();
    assert_eq!(purged.unwrap(), [arn("running")]);
    assert_eq!(store.execution(&arn("running")).await.unwrap(), None);
    // (A backend that keeps no counters reports none.)
    assert!(matches!(store.stats().purged, 0 | 5), "{:?}", store.stats());

    // Revisions: one still held by the machine stays; one the machine moved on from goes with
    // the last execution that ran it; one a version holds stays.
    let mut r1 = machine("r");
    r1.revision_id = "rev-1".into();
    let mut r2 = r1.clone();
    r2.revision_id = "rev-2".into();
    let mut v1 = version("r", 1);
    v1.revision_id = "rev-v".into();
    let ran = |name: &str, revision: &str, stop_ms: i64| {
        let mut record = closed("r", name, "SUCCEEDED", stop_ms);
        record.revision_id = revision.into();
        record
    };
    let mut on_version = ran("on-version", "rev-v", 100);
    on_version.state_machine_arn = v1.arn.clone();
    store
        .commit(vec![
            Write::PutStateMachine(r1),
            Write::PutStateMachine(v1),
            Write::InsertExecution(ran("first", "rev-1", 100)),
            Write::InsertExecution(ran("second", "rev-1", 2_000)),
            Write::InsertExecution(on_version),
            Write::PutStateMachine(r2),
            Write::InsertExecution(ran("third", "rev-2", 100)),
        ])
        .await
        .unwrap();
    let r = machine_arn("r");
    assert_eq!(store.purge_closed(500, 10).await.unwrap().len(), 3);
    assert!(
        store.revision(&r, "rev-1").await.unwrap().is_some(),
        "an execution that is kept still runs it"
    );
    assert!(store.revision(&r, "rev-2").await.unwrap().is_some());
    assert!(store.revision(&r, "rev-v").await.unwrap().is_some());
    assert_eq!(store.purge_closed(5_000, 10).await.unwrap().len(), 2);
    assert_eq!(store.revision(&r, "rev-1").await.unwrap(), None);
    assert!(store.revision(&r, "rev-2").await.unwrap().is_some());
    assert!(store.revision(&r, "rev-v").await.unwrap().is_some());
    // The machine's other revisions are untouched.
    assert!(
        store
            .revision(&machine_arn("m"), "rev-m")
            .await
            .unwrap()
            .is_some()
    );
}

async fn check_activities<S: Store>(store: &S) {
    let activity = |name: &str, created_ms: i64, tags: &[(&str, &str)]| ActivityRecord {
        arn: format!("arn:aws:states:us-east-1:123456789012:activity:{name}"),
        name: name.into(),
        created_ms,
        tags: tags
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    };
    let b = activity("beta", 1, &[("team", "sec")]);
    let a = activity("alpha", 2, &[]);
    store
        .commit(vec![
            Write::PutActivity(b.clone()),
            Write::PutActivity(a.clone()),
        ])
        .await
        .unwrap();
    assert_eq!(
        store.activities().await.unwrap(),
        [a.clone(), b.clone()],
        "by name"
    );
    assert_eq!(store.activity(&b.arn).await.unwrap(), Some(b.clone()));

    // Replace by ARN (tags change), delete twice.
    let retagged = activity("beta", 1, &[("team", "ops"), ("tier", "1")]);
    store
        .commit(vec![Write::PutActivity(retagged.clone())])
        .await
        .unwrap();
    assert_eq!(store.activity(&b.arn).await.unwrap(), Some(retagged));
    for _ in 0..2 {
        store
            .commit(vec![Write::DeleteActivity { arn: a.arn.clone() }])
            .await
            .unwrap();
    }
    assert_eq!(store.activity(&a.arn).await.unwrap(), None);
    assert_eq!(store.activities().await.unwrap().len(), 1);
}

async fn check_resources<S: Store>(store: &S) {
    let record = |kind: &str, key: &str, body: &[u8]| ResourceRecord {
        kind: kind.into(),
        key: key.into(),
        body: body.to_vec(),
    };
    store
        .commit(vec![
            Write::PutResource(record("topic", "b", b"1")),
            Write::PutResource(record("topic", "a", b"2")),
            Write::PutResource(record("subscription", "a", b"3")),
        ])
        .await
        .unwrap();
    assert_eq!(
        store.resources("topic").await.unwrap(),
        [record("topic", "a", b"2"), record("topic", "b", b"1")],
        "one kind, by key"
    );
    // Replace by (kind, key); delete twice; other kinds untouched.
    store
        .commit(vec![Write::PutResource(record("topic", "a", b"22"))])
        .await
        .unwrap();
    for _ in 0..2 {
        store
            .commit(vec![Write::DeleteResource {
                kind: "topic".into(),
                key: "b".into(),
            }])
            .await
            .unwrap();
    }
    assert_eq!(
        store.resources("topic").await.unwrap(),
        [record("topic", "a", b"22")]
    );
    assert_eq!(
        store.resources("subscription").await.unwrap(),
        [record("subscription", "a", b"3")]
    );
    assert!(store.resources("pipe").await.unwrap().is_empty());
    // One record by kind and key.
    assert_eq!(
        store.resource("subscription", "a").await.unwrap(),
        Some(record("subscription", "a", b"3"))
    );
    assert_eq!(store.resource("topic", "b").await.unwrap(), None);
    assert_eq!(store.resource("pipe", "a").await.unwrap(), None);
}

async fn check_stream_records<S: Store>(store: &S) {
    let record = |stream: i64, shard: u32, seq: u64, arrival_ms: i64| StreamRecord {
        stream,
        shard,
        seq,
        arrival_ms,
        partition_key: format!("pk{seq}"),
        data: vec![seq as u8; 100],
    };
    let read = |from_seq: u64, min_arrival_ms: i64, limit: usize, max_bytes: usize| StreamRead {
        stream: 1,
        shard: 0,
        from_seq,
        min_arrival_ms,
        limit,
        max_bytes,
    };
    store
        .commit(vec![Write::PutStreamRecords(
            (1..=5)
                .map(|seq| record(1, 0, seq, 100 * seq as i64))
                .chain([record(1, 1, 6, 600), record(2, 0, 7, 700)])
                .collect(),
        )])
        .await
        .unwrap();
    let seqs = |records: Vec<StreamRecord>| records.iter().map(|r| r.seq).collect::<Vec<_>>();
    assert_eq!(
        seqs(
            store
                .stream_records(read(0, 0, 100, 1 << 20))
                .await
                .unwrap()
        ),
        [1, 2, 3, 4, 5]
    );
    assert_eq!(
        seqs(
            store
                .stream_records(read(3, 0, 100, 1 << 20))
                .await
                .unwrap()
        ),
        [3, 4, 5]
    );
    assert_eq!(
        seqs(store.stream_records(read(0, 0, 2, 1 << 20)).await.unwrap()),
        [1, 2]
    );
    assert_eq!(
        seqs(
            store
                .stream_records(read(0, 250, 100, 1 << 20))
                .await
                .unwrap()
        ),
        [3, 4, 5]
    );
    // The byte budget stops before the record that passes it, but never returns nothing.
    assert_eq!(
        seqs(store.stream_records(read(0, 0, 100, 250)).await.unwrap()),
        [1, 2]
    );
    assert_eq!(
        seqs(store.stream_records(read(0, 0, 100, 1)).await.unwrap()),
        [1]
    );
    assert_eq!(
        store.stream_records(read(0, 0, 1, 1 << 20)).await.unwrap()[0],
        record(1, 0, 1, 100)
    );
    assert_eq!(store.stream_seq_at(1, 0, 250).await.unwrap(), Some(3));
    assert_eq!(store.stream_seq_at(1, 0, 501).await.unwrap(), None);
    assert_eq!(
        store.stream_heads(1).await.unwrap(),
        [
            ShardHead {
                shard: 0,
                last_seq: 5,
                last_arrival_ms: 500
            },
            ShardHead {
                shard: 1,
                last_seq: 6,
                last_arrival_ms: 600
            }
        ]
    );
    // A place is taken once.
    assert!(matches!(
        store
            .commit(vec![Write::PutStreamRecords(vec![record(1, 0, 5, 900)])])
            .await,
        Err(Error::Conflict { .. })
    ));
    store
        .commit(vec![Write::TrimStreamRecords {
            stream: 1,
            before_ms: 300,
        }])
        .await
        .unwrap();
    assert_eq!(
        seqs(
            store
                .stream_records(read(0, 0, 100, 1 << 20))
                .await
                .unwrap()
        ),
        [3, 4, 5]
    );
    store
        .commit(vec![Write::DeleteStreamRecords { stream: 1 }])
        .await
        .unwrap();
    assert!(store.stream_heads(1).await.unwrap().is_empty());
    assert_eq!(
        store.stream_heads(2).await.unwrap().len(),
        1,
        "other streams untouched"
    );
}

// ---- SQLite ---------------------------------------------------------------------------------

macro_rules! sqlite {
    ($($test:ident => $check:ident),* $(,)?) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $test() {
            let dir = TempDir::new(stringify!($test));
            let store = open(&dir);
            $check(&store).await;
            store.close().await.unwrap();
        }
    )*};
}

sqlite! {
    sqlite_machines_and_versions => check_machines_and_versions,
    sqlite_execution_insert_update => check_execution_insert_update,
    sqlite_events => check_events,
    sqlite_executions_listing => check_executions_listing,
    sqlite_timers_and_delete => check_timers_and_delete,
    sqlite_atomicity => check_atomicity,
    sqlite_read_your_writes => check_read_your_writes,
    sqlite_revisions => check_revisions,
    sqlite_aliases => check_aliases,
    sqlite_execution_scopes => check_execution_scopes,
    sqlite_map_runs => check_map_runs,
    sqlite_activities => check_activities,
    sqlite_purge => check_purge,
    sqlite_machines_by_region => check_machines_by_region,
    sqlite_queues => check_queues,
    sqlite_resources => check_resources,
    sqlite_stream_records => check_stream_records,
}

/// Without the in-memory copies of recent executions, every read comes from the file: the
/// same checks hold, so the copies never differ from what is committed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_reads_agree_with_and_without_recent_executions() {
    let dir = TempDir::new("no-recent");
    let options = SqliteOptions {
        recent_executions: 0,
        ..SqliteOptions::default()
    };
    let store = SqliteStore::open(&dir.db(), options.clone()).unwrap();
    check_execution_insert_update(&store).await;
    check_atomicity(&store).await;
    check_read_your_writes(&store).await;
    store.close().await.unwrap();
    let dir = TempDir::new("no-recent-purge");
    let store = SqliteStore::open(&dir.db(), options).unwrap();
    check_purge(&store).await;
    store.close().await.unwrap();

    // A tiny cache: most reads miss it, the latest ones hit it.
    let dir = TempDir::new("tiny-recent");
    let options = SqliteOptions {
        recent_executions: 2,
        ..SqliteOptions::default()
    };
    let store = SqliteStore::open(&dir.db(), options.clone()).unwrap();
    check_execution_insert_update(&store).await;
    check_atomicity(&store).await;
    store.close().await.unwrap();
    let dir = TempDir::new("tiny-recent-delete");
    let store = SqliteStore::open(&dir.db(), options).unwrap();
    check_timers_and_delete(&store).await;
    store.close().await.unwrap();
}

/// The commit that starts an execution stores its first events in the execution's row (one
/// row written, not two); later events go to `event_batches`, and the two never overlap.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_an_execution_s_first_events_live_in_its_row() {
    let dir = TempDir::new("inline-events");
    let store = open(&dir);
    let a = execution_arn("m", "a");
    store
        .commit(vec![
            Write::InsertExecution(execution("m", "a", 1)),
            Write::AppendEvents(events(&a, 1..=3)),
        ])
        .await
        .unwrap();
    store
        .commit(vec![Write::AppendEvents(events(&a, 4..=4))])
        .await
        .unwrap();
    let conflict = store
        .commit(vec![Write::AppendEvents(events(&a, 2..=5))])
        .await;
    match conflict {
        Err(Error::Conflict { what }) => assert!(what.contains("event 3 of"), "{what}"),
        other => panic!("expected a conflict, got {other:?}"),
    }
    let ids: Vec<u64> = store
        .events(&a, None, 10, true)
        .await
        .unwrap()
        .items
        .iter()
        .map(|e| e.id)
        .collect();
    assert_eq!(ids, [4, 3, 2, 1]);
    store.close().await.unwrap();

    let conn = rusqlite::Connection::open(dir.db()).unwrap();
    let (inline_last, batches): (Option<i64>, i64) = conn
        .query_row(
            "SELECT first_events_last, (SELECT count(*) FROM event_batches) FROM executions",
            [],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .unwrap();
    assert_eq!((inline_last, batches), (Some(3), 1));
}

/// An execution's input is stored once: when its ExecutionStarted event, in the same row,
/// records the same text, the input column is left empty and read back from the event (after
/// a reopen too, and in listings); an event that records another text leaves the column whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_an_execution_s_input_is_stored_once() {
    let dir = TempDir::new("input-once");
    let options = SqliteOptions {
        recent_executions: 0,
        ..SqliteOptions::default()
    };
    let store = SqliteStore::open(&dir.db(), options.clone()).unwrap();
    let started = |arn: &str, input: &str| EventRecord {
        execution_arn: arn.to_owned(),
        id: 1,
        body: serde_json::json!({
            "timestamp": "2026-11-24T00:00:00.000Z", "type": "ExecutionStarted", "id": 1,
            "previousEventId": 0,
            "executionStartedEventDetails": {"input": input, "inputDetails": {"truncated": false},
                "roleArn": "arn:aws:iam::123456789012:role/r"}})
        .to_string(),
    };
    let mut once = execution("m", "once", 1);
    once.input = format!(r#"{{"event": "{}", "spaced": [1, 2]}}"#, "x".repeat(600));
    let mut twice = execution("m", "twice", 2);
    twice.input = r#"{"a": 1}"#.to_owned();
    for (record, event_input) in [
        (&once, once.input.clone()),
        (&twice, "{\"a\":1}".to_owned()),
    ] {
        let mut events = vec![started(&record.arn, &event_input)];
        events.push(event(&record.arn, 2));
        store
            .commit(vec![
                Write::InsertExecution(record.clone()),
                Write::AppendEvents(events),
            ])
            .await
            .unwrap();
    }
    let check = |store: &SqliteStore, once: ExecutionRecord| {
        let (store, twice) = (store.clone(), twice.clone());
        async move {
            assert_eq!(
                store.execution(&once.arn).await.unwrap(),
                Some(once.clone())
            );
            assert_eq!(
                store.execution(&twice.arn).await.unwrap(),
                Some(twice.clone())
            );
            let listed = store
                .executions(ExecutionFilter::default(), None, 10)
                .await
                .unwrap();
            let inputs: BTreeSet<String> = listed.items.into_iter().map(|e| e.input).collect();
            assert_eq!(
                inputs,
                BTreeSet::from([once.input.clone(), twice.input.clone()])
            );
        }
    };
    check(&store, once.clone()).await;
    // An update keeps the input where it is.
    let mut done = once.clone();
    done.status = ExecutionStatus::Succeeded;
    done.output = Some("{}".into());
    store
        .commit(vec![Write::UpdateExecution(done.clone())])
        .await
        .unwrap();
    check(&store, done.clone()).await;
    store.close().await.unwrap();
    let conn = rusqlite::Connection::open(dir.db()).unwrap();
    let stored: Vec<(String, i64)> = conn
        .prepare("SELECT name, length(input) FROM executions ORDER BY name")
        .unwrap()
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(stored[0], ("once".to_owned(), 0), "{stored:?}");
    assert!(stored[1].1 > 0, "{stored:?}");
    drop(conn);
    let store = SqliteStore::open(&dir.db(), options).unwrap();
    check(&store, done).await;
    store.close().await.unwrap();
}

/// The conflicting and the clean commits of `check_atomicity` really shared groups.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_failed_commits_share_a_group_with_good_ones() {
    let dir = TempDir::new("group");
    let store = open(&dir);
    check_atomicity(&store).await;
    let stats = store.stats();
    assert!(stats.largest_group > 1, "{stats:?}");
    assert!(stats.groups < stats.commits + stats.rejected, "{stats:?}");
    assert_eq!((stats.commits, stats.rejected), (41, 20), "{stats:?}");
    assert!(stats.fsyncs >= 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_reopen_keeps_everything() {
    let dir = TempDir::new("reopen");
    let snapshot = |store: SqliteStore| async move {
        let machines = store.state_machines("", None, 100).await.unwrap().items;
        let versions = store.versions(&machine_arn("alpha")).await.unwrap();
        let executions = store
            .executions(ExecutionFilter::default(), None, 100)
            .await
            .unwrap()
            .items;
        let mut events = Vec::new();
        for execution in &executions {
            events.extend(
                store
                    .events(&execution.arn, None, 1000, false)
                    .await
                    .unwrap()
                    .items,
            );
        }
        let timers = store.timers().await.unwrap();
        (machines, versions, executions, events, timers)
    };

    let store = open(&dir);
    check_machines_and_versions(&store).await;
    store
        .commit(vec![
            Write::PutStateMachine(machine("alpha")),
            Write::PutStateMachine(version("alpha", 7)),
        ])
        .await
        .unwrap();
    check_timers_and_delete(&store).await;
    let before = snapshot(store.clone()).await;
    assert!(!before.0.is_empty() && !before.2.is_empty() && !before.3.is_empty());
    drop(store); // the last handle: drains and releases the file

    let store = open(&dir);
    assert_eq!(snapshot(store.clone()).await, before);
    // And it still takes writes after a reopen.
    store
        .commit(vec![Write::InsertExecution(execution("m", "later", 9))])
        .await
        .unwrap();
    store.close().await.unwrap();

    let store = open(&dir);
    assert!(
        store
            .execution(&execution_arn("m", "later"))
            .await
            .unwrap()
            .is_some()
    );
}

fn user_version(dir: &TempDir) -> u32 {
    let conn = rusqlite::Connection::open(dir.db()).unwrap();
    conn.pragma_query_value(None, "user_version", |row| row.get(0))
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_migrations_are_idempotent_and_refuse_the_future() {
    let dir = TempDir::new("migrate");
    let store = open(&dir);
    store
        .commit(vec![Write::InsertExecution(execution("m", "kept", 1))])
        .await
        .unwrap();
    store.close().await.unwrap();
    assert_eq!(user_version(&dir), SCHEMA_VERSION);

    for _ in 0..3 {
        let store = open(&dir);
        assert!(
            store
                .execution(&execution_arn("m", "kept"))
                .await
                .unwrap()
                .is_some()
        );
        store.close().await.unwrap();
        assert_eq!(user_version(&dir), SCHEMA_VERSION);
    }

    // A file written by a newer sluice is refused, clearly, and left alone.
    {
        let conn = rusqlite::Connection::open(dir.db()).unwrap();
        conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .unwrap();
    }
    let error = SqliteStore::open(&dir.db(), SqliteOptions::default()).unwrap_err();
    let Error::Storage(message) = &error else {
        panic!("{error:?}")
    };
    assert!(message.contains("newer than this build"), "{message}");
    assert_eq!(user_version(&dir), SCHEMA_VERSION + 1);
}

/// A file written by schema version 1 opens under the current one with every row intact:
/// executions learn their unqualified machine, machines and versions their revisions.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_a_version_1_file_migrates() {
    let dir = TempDir::new("v1");
    std::fs::create_dir_all(dir.db().parent().unwrap()).unwrap();
    let alpha = machine("alpha");
    let mut v1 = version("alpha", 1);
    v1.revision_id = "rev-old".into();
    v1.definition = r#"{"StartAt":"Old","States":{"Old":{"Type":"Succeed"}}}"#.into();
    let on_machine = execution("alpha", "direct", 10);
    let mut on_version = execution("alpha", "versioned", 20);
    on_version.state_machine_arn = v1.arn.clone();
    on_version.status = ExecutionStatus::Failed;
    on_version.redrive_count = 3;
    {
        let conn = rusqlite::Connection::open(dir.db()).unwrap();
        conn.execute_batch(include_str!("../../migrations/sqlite/0001_init.sql"))
            .unwrap();
        conn.pragma_update(None, "user_version", 1).unwrap();
        for m in [&alpha, &v1] {
            conn.execute(
                "INSERT INTO state_machines (arn, machine_arn, version, name, machine_type,
                     definition, role_arn, description, created_ms, updated_ms, revision_id,
                     tags, extra)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
                rusqlite::params![
                    m.arn,
                    m.machine_arn(),
                    m.version.map(|v| v as i64),
                    m.name,
                    m.machine_type.as_str(),
                    m.definition,
                    m.role_arn,
                    m.description,
                    m.created_ms,
                    m.updated_ms,
                    m.revision_id,
                    serde_json::to_string(&m.tags).unwrap(),
                    m.extra,
                ],
            )
            .unwrap();
        }
        for e in [&on_machine, &on_version] {
            conn.execute(
                "INSERT INTO executions (arn, state_machine_arn, name, status, input, output,
                     error, cause, start_ms, stop_ms, redrive_count, snapshot, next_event_id)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
                rusqlite::params![
                    e.arn,
                    e.state_machine_arn,
                    e.name,
                    e.status.as_str(),
                    e.input,
                    e.output,
                    e.error,
                    e.cause,
                    e.start_ms,
                    e.stop_ms,
                    e.redrive_count,
                    e.snapshot,
                    e.next_event_id as i64,
                ],
            )
            .unwrap();
            conn.execute(
                "INSERT INTO events (execution, id, body)
                 SELECT seq, 1, ?2 FROM executions WHERE arn = ?1",
                rusqlite::params![e.arn, event(&e.arn, 1).body],
            )
            .unwrap();
        }
        conn.execute(
            "INSERT INTO timers (execution_arn, timer_key, due_ms, payload)
             VALUES (?1, 'wait', 5, '{}')",
            [&on_machine.arn],
        )
        .unwrap();
    }
    assert_eq!(user_version(&dir), 1);

    let store = open(&dir);
    // Rows intact; what version 1 did not know reads as unknown.
    let unknown = |mut e: ExecutionRecord| {
        e.revision_id = String::new();
        e
    };
    assert_eq!(
        store.execution(&on_machine.arn).await.unwrap(),
        Some(unknown(on_machine.clone()))
    );
    assert_eq!(
        store.execution(&on_version.arn).await.unwrap(),
        Some(unknown(on_version.clone()))
    );
    assert_eq!(
        store.state_machine(&alpha.arn).await.unwrap(),
        Some(alpha.clone())
    );
    assert_eq!(store.versions(&alpha.arn).await.unwrap(), vec![v1.clone()]);
    assert_eq!(
        store
            .events(&on_version.arn, None, 10, false)
            .await
            .unwrap()
            .items,
        events(&on_version.arn, [1])
    );
    assert_eq!(store.timers().await.unwrap().len(), 1);
    // machine_arn filled: the machine's listing holds the version's execution too.
    let names = |filter: ExecutionFilter| {
        let store = store.clone();
        async move {
            store
                .executions(filter, None, 10)
                .await
                .unwrap()
                .items
                .into_iter()
                .map(|e| e.name)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        names(ExecutionFilter {
            state_machine_arn: Some(alpha.arn.clone()),
            ..ExecutionFilter::default()
        })
        .await,
        ["versioned", "direct"]
    );
    assert_eq!(
        names(ExecutionFilter {
            state_machine_arn: Some(v1.arn.clone()),
            ..ExecutionFilter::default()
        })
        .await,
        ["versioned"]
    );
    assert_eq!(
        names(ExecutionFilter {
            redriven: Some(true),
            ..ExecutionFilter::default()
        })
        .await,
        ["versioned"]
    );
    // Revisions backfilled from the machine and its version.
    assert_eq!(
        store
            .revision(&alpha.arn, &alpha.revision_id)
            .await
            .unwrap()
            .map(|r| r.definition),
        Some(alpha.definition.clone())
    );
    assert_eq!(
        store
            .revision(&alpha.arn, "rev-old")
            .await
            .unwrap()
            .map(|r| r.definition),
        Some(v1.definition.clone())
    );
    // Aliases work on the migrated file.
    let live = alias("alpha", "live", &[(1, 100)]);
    store
        .commit(vec![Write::PutAlias(live.clone())])
        .await
        .unwrap();
    assert_eq!(store.aliases(&alpha.arn).await.unwrap(), vec![live]);
    // Map Runs (version 6) too.
    let run = MapRunRecord {
        arn: "run".into(),
        execution_arn: "e".into(),
        start_ms: 1,
        body: "{}".into(),
    };
    store
        .commit(vec![Write::PutMapRun(run.clone())])
        .await
        .unwrap();
    assert_eq!(store.map_runs("e").await.unwrap(), vec![run]);
    store.close().await.unwrap();
    assert_eq!(user_version(&dir), SCHEMA_VERSION);
    assert_eq!(SCHEMA_VERSION, 13);
    // Version 9's queues start empty.
    assert!(store_queues_empty(&dir).await);
    // Version 3 keeps only the lean execution indexes; version 8 adds the retention's two.
    let conn = rusqlite::Connection::open(dir.db()).unwrap();
    let mut indexes: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'executions' AND sql IS NOT NULL ORDER BY name")
        .unwrap()
        .query_map([], |row| row.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    indexes.sort();
    assert_eq!(
        indexes,
        [
            "executions_by_alias",
            "executions_by_revision",
            "executions_by_unqualified_machine",
            "executions_by_version",
            "executions_closed",
            "executions_running"
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_one_store_per_file() {
    let dir = TempDir::new("lock");
    let store = open(&dir);
    let second = SqliteStore::open(&dir.db(), SqliteOptions::default());
    assert!(
        matches!(&second, Err(Error::Storage(m)) if m.contains("in use")),
        "{second:?}"
    );
    store.close().await.unwrap();
    // Released with the last handle.
    open(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_checkpoints_keep_the_wal_bounded_under_sustained_writes() {
    let dir = TempDir::new("wal-bound");
    let options = SqliteOptions {
        checkpoint_pages: 20,
        ..SqliteOptions::default()
    };
    let store = SqliteStore::open(&dir.db(), options).unwrap();
    // 16 committers append history without pause: checkpoints run beside the writer.
    let mut tasks = Vec::new();
    for c in 0..16 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let record = execution("m", &format!("w{c}"), c);
            let arn = record.arn.clone();
            store
                .commit(vec![Write::InsertExecution(record)])
                .await
                .unwrap();
            for id in 1..=150 {
                let mut e = event(&arn, id);
                e.body = format!(
                    "{{\"n\":{id},\"pad\":\"{}\"}}",
                    "x".repeat(900 + c as usize)
                );
                store
                    .commit(vec![Write::AppendEvents(vec![e])])
                    .await
                    .unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let stats = store.stats();
    assert!(stats.checkpoints >= 10, "{stats:?}");
    assert!(
        stats.checkpoints <= stats.wal_pages / 20 + 2,
        "one checkpoint per 20 pages of growth, not one per group: {stats:?}"
    );
    assert!(
        stats.wal_pages > 20 * 40,
        "the WAL restarted many times over: {stats:?}"
    );
    let wal = std::fs::metadata(dir.db().with_extension("db-wal"))
        .unwrap()
        .len();
    // Checkpointed inline at the latest at 8 x 20 pages, plus the group being written.
    assert!(wal < 2 << 20, "WAL file of {wal} bytes: {stats:?}");
    assert_eq!(
        store
            .events(&execution_arn("m", "w3"), None, 1000, false)
            .await
            .unwrap()
            .items
            .len(),
        150
    );
    store.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_close_drains_then_refuses() {
    let dir = TempDir::new("close");
    let store = open(&dir);
    let other = store.clone();
    // Commits in flight when close starts are all answered, and all durable.
    let mut tasks = Vec::new();
    for n in 0..200 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let record = execution("m", &format!("c{n}"), n);
            let result = store.commit(vec![Write::InsertExecution(record)]).await;
            (n, result)
        }));
    }
    tokio::task::yield_now().await;
    store.close().await.unwrap();
    let mut acknowledged = BTreeSet::new();
    for task in tasks {
        let (n, result) = task.await.unwrap();
        match result {
            Ok(()) => {
                acknowledged.insert(n);
            }
            Err(error) => assert_eq!(error, Error::Closed),
        }
    }
    assert_eq!(other.commit(vec![]).await, Err(Error::Closed));
    assert_eq!(
        other.execution(&execution_arn("m", "c0")).await,
        Err(Error::Closed)
    );
    drop(other);

    let store = open(&dir);
    let stored: BTreeSet<i64> = store
        .executions(ExecutionFilter::default(), None, 1000)
        .await
        .unwrap()
        .items
        .iter()
        .map(|e: &ExecutionRecord| e.start_ms)
        .collect();
    // Everything acknowledged is there; nothing refused is.
    assert_eq!(stored, acknowledged);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_options_are_kebab_case_with_defaults() {
    let options: SqliteOptions =
        serde_json::from_str(r#"{"max-group-commits": 8, "readers": 1}"#).unwrap();
    assert_eq!(options.max_group_commits, 8);
    assert_eq!(options.readers, 1);
    assert_eq!(options.queue_depth, SqliteOptions::default().queue_depth);
    assert!(serde_json::from_str::<SqliteOptions>(r#"{"nope": 1}"#).is_err());

    // Tiny groups and one reader still behave.
    let dir = TempDir::new("tiny");
    let store = SqliteStore::open(
        &dir.db(),
        SqliteOptions {
            max_group_commits: 1,
            max_group_bytes: 1,
            readers: 1,
            queue_depth: 1,
            checkpoint_pages: 1,
            ..SqliteOptions::default()
        },
    )
    .unwrap();
    check_atomicity(&store).await;
    let stats = store.stats();
    assert_eq!(stats.largest_group, 1, "{stats:?}");
    assert!(stats.checkpoints > 0, "{stats:?}");
}

/// A version-12 file's stream records (then a WITHOUT ROWID table) open under the current
/// schema intact, in order, and a record's place stays unique.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_version_12_stream_records_migrate() {
    let dir = TempDir::new("v12-streams");
    std::fs::create_dir_all(dir.db().parent().unwrap()).unwrap();
    {
        let conn = rusqlite::Connection::open(dir.db()).unwrap();
        for script in &sluice_store::MIGRATIONS[..12] {
            conn.execute_batch(script).unwrap();
        }
        conn.pragma_update(None, "user_version", 12).unwrap();
        for (shard, seq) in [(0, 1), (1, 2), (0, 3), (0, 5)] {
            conn.execute(
                "INSERT INTO stream_records (stream, shard, seq, arrival_ms, partition_key, data)
                 VALUES (7, ?1, ?2, ?3, 'k', ?4)",
                rusqlite::params![shard, seq, seq * 10, vec![seq as u8; 3]],
            )
            .unwrap();
        }
    }
    let store = open(&dir);
    assert_eq!(user_version(&dir), SCHEMA_VERSION);
    let read = store
        .stream_records(StreamRead {
            stream: 7,
            shard: 0,
            from_seq: 0,
            min_arrival_ms: 0,
            limit: 10,
            max_bytes: usize::MAX,
        })
        .await
        .unwrap();
    let seqs: Vec<(u64, i64, Vec<u8>)> = read
        .into_iter()
        .map(|r| (r.seq, r.arrival_ms, r.data))
        .collect();
    assert_eq!(
        seqs,
        vec![
            (1, 10, vec![1; 3]),
            (3, 30, vec![3; 3]),
            (5, 50, vec![5; 3])
        ]
    );
    let again = StreamRecord {
        stream: 7,
        shard: 0,
        seq: 3,
        arrival_ms: 30,
        partition_key: "k".into(),
        data: vec![0],
    };
    let error = store
        .commit(vec![Write::PutStreamRecords(vec![again])])
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Conflict { .. }), "{error:?}");
    store.close().await.unwrap();
}
