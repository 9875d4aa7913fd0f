//! A function's `MemorySize`, enforced on its workers as Lambda does: a worker that uses more is
//! killed, its invocation fails with `Runtime.OutOfMemory`, and the next one gets a fresh worker.
//!
//! Two ways, chosen once at startup ([`Limiter::detect`], logged):
//!
//! - **cgroup v2**: where the server's own cgroup (`/proc/self/cgroup`'s `0::` line, under
//!   `/sys/fs/cgroup`) has the memory controller and Sluice may enable it for child cgroups (it
//!   can when the cgroup is delegated to it: it moves into a leaf `sluice-server` if it is the
//!   only process there), each worker runs in a child cgroup of its own (`sluice-<pid>-<n>`) with `memory.max` =
//!   `MemorySize` MiB, no swap and `memory.oom.group`: the kernel enforces the limit on the whole
//!   process group, and `memory.events`' `oom_kill` says afterwards that it did. Nothing runs per
//!   invocation.
//! - **RSS watch** (everywhere else, e.g. a container whose cgroup has processes of its own, or a
//!   cgroup v1 machine): Sluice reads the worker's peak resident memory (`VmHWM` of
//!   `/proc/<pid>/status`) every [`WATCH_PERIOD`] and when an invocation ends that ran long
//!   enough to have crossed the limit since the last reading (see [`Watch::may_have_crossed`]),
//!   and kills the worker's process group when it is over. It sees the worker process, not
//!   processes the handler starts.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::time::Instant;

/// `functions.memory-limit`: how `MemorySize` is enforced.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MemoryLimit {
    /// cgroup v2 where Sluice may create child cgroups with the memory controller, else the
    /// RSS watch.
    #[default]
    Auto,
    /// The RSS watch, whatever the machine has.
    Watch,
    /// Not enforced.
    Off,
}

/// How often the RSS watch reads each worker's peak resident memory.
pub(crate) const WATCH_PERIOD: Duration = Duration::from_millis(100);

/// Faster than a process can make memory resident (zeroing fresh pages runs at a few GB/s per
/// core): an invocation shorter than the headroom at this rate cannot have crossed the limit.
const MAX_GROWTH_BYTES_PER_MS: u64 = 64 << 20;

/// The cgroup v2 file system.
const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// How the functions service enforces `MemorySize` on its workers.
#[derive(Debug)]
pub(crate) enum Limiter {
    /// Child cgroups of `parent` (the server's own cgroup).
    Cgroup {
        parent: PathBuf,
        next: AtomicU64,
    },
    Watch,
    Off,
}

impl Limiter {
    /// The way `setting` asks for that works here; says which in the log.
    pub(crate) fn detect(setting: MemoryLimit) -> Self {
        let limiter = match setting {
            MemoryLimit::Off => Limiter::Off,
            MemoryLimit::Watch => Limiter::Watch,
            MemoryLimit::Auto => {
                match own_cgroup().and_then(|own| cgroup_parent(Path::new(CGROUP_ROOT), &own)) {
                    Ok(parent) => {
                        remove_stale_cgroups(&parent);
                        Limiter::Cgroup {
                            parent,
                            next: AtomicU64::new(0),
                        }
                    }
                    Err(why) => {
                        tracing::info!(
                            "function memory limits: RSS watch every {} ms (no cgroup v2 for them: \
                         {why})",
                            WATCH_PERIOD.as_millis()
                        );
                        return Limiter::Watch;
                    }
                }
            }
        };
        match &limiter {
            Limiter::Cgroup { parent, .. } => tracing::info!(
                "function memory limits: cgroup v2, a child cgroup per worker under {} with \
                 memory.max = MemorySize",
                parent.display()
            ),
            Limiter::Watch => tracing::info!(
                "function memory limits: RSS watch every {} ms (functions.memory-limit = watch)",
                WATCH_PERIOD.as_millis()
            ),
            Limiter::Off => {
                tracing::info!("function memory limits: off (functions.memory-limit = off)")
            }
        }
        limiter
    }

    /// The limit of a worker about to start with `memory_mib`; a cgroup that cannot be made
    /// falls back to the watch for this worker.
    pub(crate) fn prepare(&self, memory_mib: u32) -> Prepared {
        let limit_bytes = u64::from(memory_mib) << 20;
        match self {
            Limiter::Off => Prepared::None,
            Limiter::Watch => Prepared::Watch { limit_bytes },
            Limiter::Cgroup { parent, next } => {
                let n = next.fetch_add(1, Ordering::Relaxed);
                let dir = parent.join(format!("sluice-{}-{n}", std::process::id()));
                match WorkerCgroup::create(dir, limit_bytes) {
                    Ok(cgroup) => Prepared::Cgroup(cgroup),
                    Err(error) => {
                        tracing::warn!(%error, "cannot create a worker's cgroup; watching its memory instead");
                        Prepared::Watch { limit_bytes }
                    }
                }
            }
        }
    }
}

/// A worker's limit before its process exists.
#[derive(Debug)]
pub(crate) enum Prepared {
    None,
    Watch { limit_bytes: u64 },
    Cgroup(WorkerCgroup),
}

impl Prepared {
    /// The limit of the started process `pid`.
    pub(crate) fn attach(self, pid: Option<u32>) -> Enforced {
        let Some(pid) = pid else {
            // Not started (or already reaped): nothing to hold, nothing to leave behind.
            if let Prepared::Cgroup(cgroup) = self {
                cgroup.remove();
            }
            return Enforced::None;
        };
        match self {
            Prepared::None => Enforced::None,
            Prepared::Watch { limit_bytes } => match Watch::open(pid, limit_bytes) {
                Ok(watch) => Enforced::Watch(std::sync::Arc::new(watch)),
                Err(error) => {
                    tracing::warn!(%error, pid, "cannot watch a worker's memory");
                    Enforced::None
                }
            },
            Prepared::Cgroup(cgroup) => match cgroup.adopt(pid) {
                Ok(()) => Enforced::Cgroup(cgroup),
                Err(error) => {
                    tracing::warn!(%error, pid, "cannot move a worker into its cgroup; watching its memory instead");
                    let limit_bytes = cgroup.limit_bytes;
                    cgroup.remove();
                    Prepared::Watch { limit_bytes }.attach(Some(pid))
                }
            },
        }
    }
}

/// A running worker's limit.
#[derive(Debug)]
pub(crate) enum Enforced {
    None,
    Watch(std::sync::Arc<Watch>),
    Cgroup(WorkerCgroup),
}

/// One worker's cgroup.
#[derive(Debug)]
pub(crate) struct WorkerCgroup {
    dir: PathBuf,
    limit_bytes: u64,
}

impl WorkerCgroup {
    fn create(dir: PathBuf, limit_bytes: u64) -> std::io::Result<Self> {
        std::fs::create_dir(&dir)?;
        let cgroup = Self { dir, limit_bytes };
        if let Err(error) = std::fs::write(cgroup.dir.join("memory.max"), limit_bytes.to_string()) {
            cgroup.remove();
            return Err(error);
        }
        // Swap would let a worker run past its limit; the group dies together, as a sandbox.
        // Either file may be missing (no swap accounting, old kernels): best effort.
        let _ = std::fs::write(cgroup.dir.join("memory.swap.max"), "0");
        let _ = std::fs::write(cgroup.dir.join("memory.oom.group"), "1");
        Ok(cgroup)
    }

    /// Moves `pid` in. Its children follow it; what it allocated before stays charged to the
    /// server's cgroup (a few pages of an interpreter starting).
    fn adopt(&self, pid: u32) -> std::io::Result<()> {
        std::fs::write(self.dir.join("cgroup.procs"), pid.to_string())
    }

    /// Whether the kernel killed a process of the cgroup for going over `memory.max`.
    pub(crate) fn oom_killed(&self) -> bool {
        let Ok(events) = std::fs::read_to_string(self.dir.join("memory.events")) else {
            return false;
        };
        events.lines().any(|line| {
            let mut words = line.split_whitespace();
            matches!(
                (words.next(), words.next().and_then(|n| n.parse::<u64>().ok())),
                (Some("oom_kill" | "oom_group_kill"), Some(n)) if n > 0
            )
        })
    }

    /// Kills what is left in it and removes it (retried in the background while its last
    /// processes are being reaped).
    pub(crate) fn remove(self) {
        let _ = std::fs::write(self.dir.join("cgroup.kill"), "1");
        if std::fs::remove_dir(&self.dir).is_ok() {
            return;
        }
        let dir = self.dir;
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                for _ in 0..50 {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    if std::fs::remove_dir(&dir).is_ok() {
                        return;
                    }
                }
                tracing::warn!(dir = %dir.display(), "cannot remove a worker's cgroup");
            });
        }
    }
}

/// The RSS watch of one worker process.
#[derive(Debug)]
pub(crate) struct Watch {
    /// `/proc/<pid>/status`, kept open: each reading is one `pread`, and it cannot name another
    /// process once the worker is gone.
    status: std::fs::File,
    limit_bytes: u64,
    last: Mutex<Reading>,
}

/// The last reading of a worker's peak resident memory.
#[derive(Debug, Clone, Copy)]
struct Reading {
    at: Instant,
    peak: u64,
    /// How long the worker ran invocations since, unread.
    busy: Duration,
}

impl Watch {
    fn open(pid: u32, limit_bytes: u64) -> std::io::Result<Self> {
        let status = std::fs::File::open(format!("/proc/{pid}/status"))?;
        Ok(Self {
            status,
            limit_bytes,
            last: Mutex::new(Reading {
                at: Instant::now(),
                peak: 0,
                busy: Duration::ZERO,
            }),
        })
    }

    fn last(&self) -> std::sync::MutexGuard<'_, Reading> {
        self.last.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Reads the worker's peak resident memory now: `Some(bytes)` when it is over the limit.
    pub(crate) fn over(&self) -> Option<u64> {
        let peak = self.peak()?;
        *self.last() = Reading {
            at: Instant::now(),
            peak,
            busy: Duration::ZERO,
        };
        (peak > self.limit_bytes).then_some(peak)
    }

    /// Whether the worker, which just finished an invocation it ran since `busy_since`, may
    /// have gone over the limit since the last reading: not when all it ran since (this
    /// invocation and the unread ones before) is too short to fill the headroom that reading
    /// left ([`MAX_GROWTH_BYTES_PER_MS`]; growth between invocations, in the runtime's own
    /// threads, is left to the periodic reading). Spares short invocations the reading. A
    /// worker's first invocation is always read (`first`): its init ran unaccounted.
    pub(crate) fn may_have_crossed(&self, busy_since: Instant, first: bool) -> bool {
        let mut last = self.last();
        let ran = Instant::now().saturating_duration_since(busy_since.max(last.at));
        let busy = last.busy.saturating_add(ran);
        let reachable = (busy.as_millis() as u64 + 1).saturating_mul(MAX_GROWTH_BYTES_PER_MS);
        if first || last.peak.saturating_add(reachable) > self.limit_bytes {
            return true;
        }
        last.busy = busy;
        false
    }

    /// Resolves with the peak resident bytes once a periodic reading finds it over the limit.
    pub(crate) async fn until_over(&self) -> u64 {
        let mut ticks = tokio::time::interval(WATCH_PERIOD);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            if let Some(peak) = self.over() {
                return peak;
            }
        }
    }

    /// `VmHWM` in bytes, `None` when the process is gone.
    fn peak(&self) -> Option<u64> {
        use std::os::unix::fs::FileExt as _;
        let mut buf = [0u8; 4096];
        let n = self.status.read_at(&mut buf, 0).ok()?;
        vm_hwm_bytes(buf.get(..n)?)
    }
}

/// `VmHWM:   1234 kB` of a `/proc/<pid>/status`, in bytes.
fn vm_hwm_bytes(status: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(status).ok()?;
    let line = text.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line
        .trim_start_matches("VmHWM:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb.saturating_mul(1024))
}

/// The server's cgroup v2 path (`/proc/self/cgroup`'s `0::` line).
fn own_cgroup() -> Result<String, String> {
    let own = std::fs::read_to_string("/proc/self/cgroup")
        .map_err(|e| format!("cannot read /proc/self/cgroup: {e}"))?;
    own.lines()
        .find_map(|l| l.strip_prefix("0::"))
        .map(str::to_owned)
        .ok_or_else(|| "the process is in no cgroup v2 hierarchy".into())
}

/// The server's own cgroup (`own` under the cgroup v2 mount `root`), when its children can have
/// `memory.max`; else why not.
fn cgroup_parent(root: &Path, own: &str) -> Result<PathBuf, String> {
    if !root.join("cgroup.controllers").is_file() {
        return Err(format!("{} is not a cgroup v2 mount", root.display()));
    }
    let dir = root.join(own.trim_start_matches('/'));
    let has_memory = |file: &str| {
        std::fs::read_to_string(dir.join(file))
            .is_ok_and(|text| text.split_whitespace().any(|c| c == "memory"))
    };
    if !has_memory("cgroup.controllers") {
        return Err(format!(
            "the memory controller is not available in {}",
            dir.display()
        ));
    }
    if !has_memory("cgroup.subtree_control") {
        let enable = || std::fs::write(dir.join("cgroup.subtree_control"), "+memory");
        if let Err(error) = enable() {
            // A cgroup with processes of its own cannot give its children controllers (EBUSY;
            // the root is exempt). Alone in it, the server moves into a leaf of its own first,
            // as systemd advises for delegated cgroups; it never moves another process.
            let refused = || {
                format!(
                    "cannot enable the memory controller for child cgroups of {}: {error}",
                    dir.display()
                )
            };
            if !alone_in(&dir) {
                return Err(format!("{} (other processes share the cgroup)", refused()));
            }
            let leaf = dir.join(SERVER_LEAF);
            match std::fs::create_dir(&leaf) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(format!("{} (and no leaf for the server: {e})", refused())),
            }
            std::fs::write(leaf.join("cgroup.procs"), std::process::id().to_string())
                .and_then(|()| enable())
                .map_err(|e| format!("{} (and after moving into a leaf: {e})", refused()))?;
        }
    }
    let probe = dir.join(format!("sluice-{}-probe", std::process::id()));
    WorkerCgroup::create(probe, 128 << 20)
        .map_err(|e| format!("cannot create a child cgroup in {}: {e}", dir.display()))?
        .remove();
    Ok(dir)
}

/// The leaf cgroup the server moves into when its own must give workers the memory controller.
const SERVER_LEAF: &str = "sluice-server";

/// Whether the server is the only process in the cgroup `dir`.
fn alone_in(dir: &Path) -> bool {
    let me = std::process::id().to_string();
    std::fs::read_to_string(dir.join("cgroup.procs"))
        .is_ok_and(|procs| procs.lines().all(|pid| pid.trim() == me))
}

/// Removes the (empty) worker cgroups an earlier server left.
fn remove_stale_cgroups(parent: &Path) {
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with("sluice-") && name != SERVER_LEAF {
            let _ = std::fs::remove_dir(entry.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_peak_resident_memory_of_a_status_file() {
        let status =
            b"Name:\tpython3\nVmPeak:\t  16564 kB\nVmHWM:\t   13600 kB\nVmRSS:\t 13600 kB\n";
        assert_eq!(vm_hwm_bytes(status), Some(13600 * 1024));
        assert_eq!(vm_hwm_bytes(b"Name:\tx\n"), None);
        let watch = Watch::open(std::process::id(), 1 << 50).unwrap();
        assert!(watch.peak().unwrap() > 1 << 20);
        assert_eq!(watch.over(), None);
        let tight = Watch::open(std::process::id(), 1 << 20).unwrap();
        assert!(tight.over().is_some());
    }

    #[tokio::test]
    async fn short_invocations_far_from_the_limit_are_not_read() {
        let watch = Watch::open(std::process::id(), 1 << 40).unwrap();
        assert!(watch.may_have_crossed(Instant::now(), true));
        assert_eq!(watch.over(), None);
        assert!(!watch.may_have_crossed(Instant::now(), false));
        // Near the limit, any invocation may have crossed it.
        let peak = watch.peak().unwrap();
        let near = Watch::open(std::process::id(), peak + (1 << 20)).unwrap();
        assert_eq!(near.over(), None);
        assert!(near.may_have_crossed(Instant::now(), false));
        // Unread invocations add up.
        let room = Watch::open(std::process::id(), peak + 3 * MAX_GROWTH_BYTES_PER_MS).unwrap();
        assert_eq!(room.over(), None);
        room.last().busy = Duration::from_millis(1);
        assert!(!room.may_have_crossed(Instant::now(), false));
        room.last().busy = Duration::from_millis(3);
        assert!(room.may_have_crossed(Instant::now(), false));
    }

    #[test]
    fn oom_kills_are_read_from_memory_events() {
        let dir = std::env::temp_dir().join(format!("sluice-memory-events-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let cgroup = WorkerCgroup {
            dir: dir.clone(),
            limit_bytes: 0,
        };
        std::fs::write(
            dir.join("memory.events"),
            "low 0\nhigh 0\nmax 12\noom 1\noom_kill 0\n",
        )
        .unwrap();
        assert!(!cgroup.oom_killed());
        std::fs::write(
            dir.join("memory.events"),
            "low 0\nmax 12\noom 1\noom_kill 1\n",
        )
        .unwrap();
        assert!(cgroup.oom_killed());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_parent_cgroup_is_chosen_only_where_children_get_the_memory_controller() {
        // A stand-in for the cgroup file system: directories and files behave alike enough for
        // the choice (the kernel's refusals are not modelled).
        let root = std::env::temp_dir().join(format!("sluice-cgroup-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let own = root.join("service");
        std::fs::create_dir_all(&own).unwrap();
        let why = cgroup_parent(&root, "/service").unwrap_err();
        assert!(why.contains("is not a cgroup v2 mount"), "{why}");

        std::fs::write(root.join("cgroup.controllers"), "cpu io memory pids\n").unwrap();
        std::fs::write(own.join("cgroup.controllers"), "cpu pids\n").unwrap();
        let why = cgroup_parent(&root, "/service").unwrap_err();
        assert!(why.contains("memory controller is not available"), "{why}");

        std::fs::write(own.join("cgroup.controllers"), "cpu memory pids\n").unwrap();
        std::fs::write(own.join("cgroup.subtree_control"), "memory\n").unwrap();
        assert_eq!(cgroup_parent(&root, "/service").unwrap(), own);
        let cgroup = WorkerCgroup::create(own.join("sluice-1-0"), 128 << 20).unwrap();
        assert_eq!(
            std::fs::read_to_string(own.join("sluice-1-0/memory.max")).unwrap(),
            "134217728"
        );
        cgroup.adopt(42).unwrap();
        assert_eq!(
            std::fs::read_to_string(own.join("sluice-1-0/cgroup.procs")).unwrap(),
            "42"
        );
        assert!(!cgroup.oom_killed());
        let _ = std::fs::remove_dir_all(&root);
    }
}
