//! The buckets on a real store: what survives a reopen, how concurrent writes of a key settle,
//! conditional writes that race, and segment files nothing refers to.

use std::sync::Arc;

use bytes::Bytes;
use futures_util::TryStreamExt as _;
use sluice_buckets::{Attributes, Buckets, Conditions, Error, Integrity, Options, Origin, Query};
use sluice_clock::Clock;
use sluice_store::{SqliteOptions, SqliteStore};

fn open_store(dir: &std::path::Path) -> SqliteStore {
    SqliteStore::open(&dir.join("sluice.db"), SqliteOptions::default()).unwrap()
}

async fn open(dir: &std::path::Path) -> Buckets<SqliteStore> {
    Buckets::open(
        open_store(dir),
        Clock::system(),
        &dir.join("buckets"),
        Options::default(),
    )
    .await
    .unwrap()
}

fn body(
    bytes: &[u8],
) -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> + Unpin + Send {
    futures_util::stream::iter([Ok(Bytes::copy_from_slice(bytes))])
}

async fn put(
    b: &Buckets<SqliteStore>,
    key: &str,
    bytes: &[u8],
    conditions: Conditions,
) -> Result<Arc<sluice_buckets::Object>, Error> {
    b.put_object(
        "bkt",
        key,
        Attributes::default(),
        Integrity::default(),
        conditions,
        body(bytes),
        &Origin::default(),
    )
    .await
}

async fn read(b: &Buckets<SqliteStore>, key: &str) -> Vec<u8> {
    let object = b.object("bkt", key).unwrap();
    let stream = b.read(&object, 0, object.size).await.unwrap();
    stream.map_ok(|c| c.to_vec()).try_concat().await.unwrap()
}

fn segment_files(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir.join("buckets/segments"))
        .map(|d| d.count())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn objects_small_and_large_survive_a_reopen_and_replaced_bytes_are_forgotten() {
    let dir = sluice_test_util::scratch("buckets", "reopen");
    let large = vec![7u8; 200_000];
    {
        let b = open(&dir).await;
        b.create_bucket("bkt", "us-east-1").await.unwrap();
        put(&b, "small", b"tiny", Conditions::default())
            .await
            .unwrap();
        put(&b, "large", &large, Conditions::default())
            .await
            .unwrap();
        assert_eq!(segment_files(&dir), 1, "only the large object has a file");
        // Replacing the large object by a small one forgets its file.
        put(&b, "large2", &large, Conditions::default())
            .await
            .unwrap();
        put(&b, "large2", b"now small", Conditions::default())
            .await
            .unwrap();
        assert_eq!(segment_files(&dir), 1);
        b.delete_object("bkt", "small", &Origin::default())
            .await
            .unwrap();
    }
    // A segment file that no object refers to (a crash between its write and its commit).
    std::fs::write(dir.join("buckets/segments/orphan0000"), b"junk").unwrap();
    let b = open(&dir).await;
    assert_eq!(read(&b, "large").await, large);
    assert_eq!(read(&b, "large2").await, b"now small");
    assert!(matches!(b.object("bkt", "small"), Err(Error::NoSuchKey(_))));
    assert_eq!(segment_files(&dir), 1, "the orphan is swept at open");
    let page = b
        .list(
            "bkt",
            &Query {
                max_keys: 1000,
                ..Query::default()
            },
        )
        .unwrap();
    let keys: Vec<&str> = page.objects.iter().map(|o| o.key.as_str()).collect();
    assert_eq!(keys, ["large", "large2"]);
    // Writes after a reopen order after the ones before it.
    let again = put(&b, "large", b"x", Conditions::default()).await.unwrap();
    assert!(again.seq > b.object("bkt", "large2").unwrap().seq);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn of_racing_create_only_writes_exactly_one_wins() {
    let dir = sluice_test_util::scratch("buckets", "race");
    let b = open(&dir).await;
    b.create_bucket("bkt", "us-east-1").await.unwrap();
    for round in 0..20 {
        let key = format!("k{round}");
        let attempts: Vec<_> = (0..8)
            .map(|i| {
                let (b, key) = (b.clone(), key.clone());
                tokio::spawn(async move {
                    let only_new = Conditions {
                        if_match: None,
                        if_none_match: true,
                    };
                    put(&b, &key, format!("writer {i}").as_bytes(), only_new).await
                })
            })
            .collect();
        let mut won = Vec::new();
        for (i, attempt) in attempts.into_iter().enumerate() {
            match attempt.await.unwrap() {
                Ok(_) => won.push(i),
                Err(Error::PreconditionFailed(_)) => {}
                Err(other) => panic!("{other}"),
            }
        }
        assert_eq!(won.len(), 1, "round {round}: {won:?}");
        assert_eq!(
            read(&b, &key).await,
            format!("writer {}", won[0]).as_bytes()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writes_of_a_key_leave_memory_and_store_agreeing_on_the_last() {
    let dir = sluice_test_util::scratch("buckets", "last");
    let mut expected = Vec::new();
    {
        let b = open(&dir).await;
        b.create_bucket("bkt", "us-east-1").await.unwrap();
        for round in 0..10 {
            let key = format!("k{round}");
            let writers: Vec<_> = (0..6)
                .map(|i| {
                    let (b, key) = (b.clone(), key.clone());
                    tokio::spawn(async move {
                        if i % 3 == 2 {
                            b.delete_object("bkt", &key, &Origin::default())
                                .await
                                .map(|_| ())
                        } else {
                            put(
                                &b,
                                &key,
                                &vec![i as u8; 100 + i * 70_000],
                                Conditions::default(),
                            )
                            .await
                            .map(|_| ())
                        }
                    })
                })
                .collect();
            for w in writers {
                w.await.unwrap().unwrap();
            }
            expected.push((
                key.clone(),
                b.object("bkt", &key).ok().map(|o| o.etag.clone()),
            ));
        }
    }
    // What memory answered is what the store kept.
    let b = open(&dir).await;
    for (key, etag) in expected {
        assert_eq!(
            b.object("bkt", &key).ok().map(|o| o.etag.clone()),
            etag,
            "{key}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn versions_and_delete_markers_survive_a_reopen() {
    let dir = sluice_test_util::scratch("buckets", "versions");
    {
        let b = open(&dir).await;
        b.create_bucket("bkt", "us-east-1").await.unwrap();
        b.update_bucket("bkt", |info| {
            info.settings.insert(
                sluice_buckets::VERSIONING.into(),
                serde_json::Value::String("Enabled".into()),
            );
            Ok(())
        })
        .await
        .unwrap();
        put(&b, "k", &vec![1u8; 100_000], Conditions::default())
            .await
            .unwrap();
        put(&b, "k", b"second", Conditions::default())
            .await
            .unwrap();
        b.delete_object("bkt", "k", &Origin::default())
            .await
            .unwrap();
    }
    let b = open(&dir).await;
    assert!(matches!(b.object("bkt", "k"), Err(Error::NoSuchKey(_))));
    let (versions, truncated) = b.versions_page("bkt", "", None, None, 1000).unwrap();
    assert!(!truncated);
    let shape: Vec<(bool, bool, u64)> = versions
        .iter()
        .map(|(o, latest)| (*latest, o.delete_marker, o.size))
        .collect();
    assert_eq!(
        shape,
        [(true, true, 0), (false, false, 6), (false, false, 100_000)]
    );
    // The first version's bytes (a file) were kept, not collected.
    let first = &versions[2].0;
    let bytes: Vec<u8> = b
        .read(first, 0, first.size)
        .await
        .unwrap()
        .map_ok(|c| c.to_vec())
        .try_concat()
        .await
        .unwrap();
    assert_eq!(bytes, vec![1u8; 100_000]);
    assert_eq!(segment_files(&dir), 1);
}
