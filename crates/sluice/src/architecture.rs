//! The dependency rules of ARCHITECTURE.md, checked over `cargo metadata` so that a change
//! breaking one fails the tests instead of waiting for a reviewer.

use std::collections::{BTreeSet, HashMap};

use serde_json::Value;

/// Workspace packages and their normal (non-dev, non-build) dependencies, direct and
/// transitive, by package name.
struct Graph {
    direct: HashMap<String, BTreeSet<String>>,
    transitive: HashMap<String, BTreeSet<String>>,
}

/// The host's target triple (`rustc -vV`): the graph is the one this machine builds, not every
/// platform's (whose crates need not be downloaded).
fn host() -> String {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let output = std::process::Command::new(rustc)
        .arg("-vV")
        .output()
        .expect("run rustc -vV");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .find_map(|line| line.strip_prefix("host: "))
        .expect("rustc -vV names the host")
        .to_string()
}

fn graph() -> Graph {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = std::process::Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--locked", "--offline"])
        .args(["--filter-platform", &host()])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run cargo metadata");
    assert!(
        output.status.success(),
        "cargo metadata: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let metadata: Value = serde_json::from_slice(&output.stdout).expect("metadata JSON");
    let name_of: HashMap<&str, &str> = metadata["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .map(|p| {
            (
                p["id"].as_str().unwrap_or(""),
                p["name"].as_str().unwrap_or(""),
            )
        })
        .collect();
    let mut edges: HashMap<&str, Vec<&str>> = HashMap::new();
    for node in metadata["resolve"]["nodes"].as_array().expect("resolve") {
        let id = node["id"].as_str().unwrap_or("");
        let normal = node["deps"].as_array().into_iter().flatten().filter(|dep| {
            dep["dep_kinds"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|kind| kind["kind"].is_null())
        });
        edges.insert(
            id,
            normal
                .map(|dep| dep["pkg"].as_str().unwrap_or(""))
                .collect(),
        );
    }
    let members: Vec<&str> = metadata["workspace_members"]
        .as_array()
        .expect("members")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let mut direct = HashMap::new();
    let mut transitive = HashMap::new();
    for member in members {
        let name = name_of[member].to_string();
        let first: BTreeSet<String> = edges
            .get(member)
            .into_iter()
            .flatten()
            .map(|id| name_of[id].to_string())
            .collect();
        let mut seen = BTreeSet::new();
        let mut stack: Vec<&str> = edges.get(member).cloned().unwrap_or_default();
        while let Some(id) = stack.pop() {
            if seen.insert(name_of[id].to_string()) {
                stack.extend(edges.get(id).into_iter().flatten().copied());
            }
        }
        direct.insert(name.clone(), first);
        transitive.insert(name, seen);
    }
    Graph { direct, transitive }
}

fn violations(
    graph: &HashMap<String, BTreeSet<String>>,
    crates: &[&str],
    forbidden: &[&str],
) -> Vec<String> {
    let mut found = Vec::new();
    for krate in crates {
        let Some(deps) = graph.get(*krate) else {
            continue;
        };
        for dep in deps {
            if forbidden.iter().any(|f| dep == f) {
                found.push(format!("{krate} -> {dep}"));
            }
        }
    }
    found
}

const ASYNC_AND_IO: &[&str] = &[
    "tokio",
    "futures",
    "futures-util",
    "mio",
    "axum",
    "hyper",
    "rusqlite",
    "socket2",
];
const DOMAIN: &[&str] = &[
    "sluice-engine",
    "sluice-functions",
    "sluice-store",
    "sluice-broker",
    "sluice-streams",
    "sluice-objects",
    "sluice-scheduler",
];

#[test]
fn the_language_crates_have_no_async_and_no_io() {
    let graph = graph();
    // The shared vocabulary is pure data too.
    let found = violations(
        &graph.transitive,
        &[
            "sluice-asl",
            "sluice-jsonata",
            "sluice-patterns",
            "sluice-schedule",
            "sluice-types",
        ],
        ASYNC_AND_IO,
    );
    assert!(found.is_empty(), "{found:?}");
    let own: Vec<&String> = graph.direct["sluice-asl"]
        .iter()
        .filter(|d| d.starts_with("sluice-") && *d != "sluice-jsonata")
        .collect();
    assert!(own.is_empty(), "sluice-asl depends on {own:?}");
}

#[test]
fn the_protocol_layer_depends_on_no_domain_crate() {
    let graph = graph();
    let mut forbidden = DOMAIN.to_vec();
    forbidden.extend(["sluice-services", "sluice-asl", "sluice-jsonata"]);
    let found = violations(&graph.transitive, &["sluice-api"], &forbidden);
    assert!(found.is_empty(), "{found:?}");
}

#[test]
fn domain_crates_know_no_wire_format_and_no_adapter() {
    let graph = graph();
    let found = violations(
        &graph.transitive,
        DOMAIN,
        &["sluice-api", "sluice-services", "sluice-bench", "sluice"],
    );
    assert!(found.is_empty(), "{found:?}");
}

#[test]
fn queues_streams_and_buckets_reach_the_engine_and_functions_only_through_targets() {
    let graph = graph();
    let found = violations(
        &graph.transitive,
        &[
            "sluice-broker",
            "sluice-streams",
            "sluice-objects",
            "sluice-scheduler",
        ],
        &["sluice-engine", "sluice-functions", "sluice-broker"],
    );
    assert!(found.is_empty(), "{found:?}");
}

#[test]
fn leaves_stay_leaves() {
    let graph = graph();
    // The shared vocabulary, the clock, the task tracker, the test harness, the load
    // generator (which speaks HTTP to a server) and the terminal views depend on no crate of
    // ours.
    for leaf in [
        "sluice-types",
        "sluice-clock",
        "sluice-runtime",
        "sluice-test-util",
        "sluice-bench",
        "sluice-views",
    ] {
        let own: Vec<&String> = graph.transitive[leaf]
            .iter()
            .filter(|d| d.starts_with("sluice"))
            .collect();
        assert!(own.is_empty(), "{leaf} depends on {own:?}");
    }
    // Sanity: the graph is the workspace's.
    assert!(graph.direct["sluice"].contains("sluice-services"));
    assert!(graph.transitive["sluice-engine"].contains("tokio"));
}
