//! [`Registry`]: functions persisted in the data dir, by region.
//!
//! ```text
//! <data-dir>/functions/<region>/<name>/function.json     $LATEST's configuration (crate::Function)
//! <data-dir>/functions/<region>/<name>/code-<revision>/  unpacked code, named by $LATEST or versions
//! <data-dir>/functions/<region>/<name>/versions/<n>.json published version n (a crate::Function)
//! <data-dir>/functions/<region>/<name>/aliases.json      the aliases (crate::Alias), by name
//! <data-dir>/functions/<region>/<name>/event-invoke-configs.json
//!                                                        event invoke configs, by qualifier
//! <data-dir>/functions/<region>/<name>/logs/             per-invocation logs (crate::logs)
//! ```
//!
//! A function is its region and its name: two regions may hold functions of the same name.
//! Data dirs written before functions were regional hold `<data-dir>/functions/<name>/`;
//! [`Registry::open`] moves each such function into the configured region's folder (through
//! `.moving-<name>`, so that a function named like the region moves too, and a crash midway
//! finishes at the next open).
//!
//! Every write is atomic: code is unpacked into a fresh `code-<revision>` folder, then
//! `function.json` is replaced through a temporary file (written, fsynced, renamed over, and
//! the folder fsynced), and only then is the previous code folder removed — unless a published
//! version still runs it: a version shares the code folder of the `$LATEST` it was published
//! from (publishing copies nothing; code folders are never changed, only replaced), and a code
//! folder goes with the last configuration naming it. Versions and aliases are written the
//! same way (`versions/<n>.json`, `aliases.json`). A crash at any point leaves the previous or
//! the new state whole; [`Registry::open`] removes what a crash left behind (temporary files,
//! unreferenced code folders, folders without `function.json`) and never reuses the number of
//! a version it finds (a publish that crashed between its two writes).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use base64::Engine as _;
use sha2::Digest as _;

use crate::event_config::EventInvokeConfig;
use crate::function::{Alias, Function, Qualifier, Settings, valid_name, valid_region};
use crate::{Error, archive};

const CONFIG_FILE: &str = "function.json";
const VERSIONS_DIR: &str = "versions";
const ALIASES_FILE: &str = "aliases.json";
const EVENT_CONFIGS_FILE: &str = "event-invoke-configs.json";
/// The prefix of a function folder of the layout before regions, on its way to its region.
const MOVING_PREFIX: &str = ".moving-";

/// One function: `$LATEST`, its published versions, its aliases and the event invoke configs
/// of those.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub latest: Function,
    pub versions: BTreeMap<u64, Function>,
    pub aliases: BTreeMap<String, Alias>,
    /// By qualifier (`$LATEST`, a version number, an alias name).
    pub event_configs: BTreeMap<String, EventInvokeConfig>,
}

impl Entry {
    /// Whether `qualifier` names `$LATEST`, a published version or an alias of the function.
    pub fn has_qualifier(&self, qualifier: &str) -> bool {
        match Qualifier::parse(qualifier) {
            Qualifier::Latest => true,
            Qualifier::Version(n) => self.versions.contains_key(&n),
            Qualifier::Alias(alias) => self.aliases.contains_key(alias),
            Qualifier::Nothing => false,
        }
    }

    /// `$LATEST` or the published version `version` names, if it exists.
    pub fn version(&self, version: &str) -> Option<&Function> {
        match Qualifier::parse(version) {
            Qualifier::Latest => Some(&self.latest),
            Qualifier::Version(n) => self.versions.get(&n),
            Qualifier::Alias(_) | Qualifier::Nothing => None,
        }
    }

    /// Whether `$LATEST` or a version runs the code in `code_dir`.
    fn uses_code(&self, code_dir: &str) -> bool {
        self.latest.code_dir == code_dir || self.versions.values().any(|v| v.code_dir == code_dir)
    }
}

/// Functions by region, then by name.
type Regions = BTreeMap<String, BTreeMap<String, Entry>>;

/// The functions of one data dir. Reads are served from memory; writes go to disk first.
#[derive(Debug)]
pub struct Registry {
    root: PathBuf,
    functions: Mutex<Regions>,
}

impl Registry {
    /// Opens (creating if needed) `<data_dir>/functions` and loads every function; functions of
    /// the layout before regions move into `home_region`.
    pub fn open(data_dir: &Path, home_region: &str) -> Result<Self, Error> {
        let root = data_dir.join("functions");
        std::fs::create_dir_all(&root)
            .map_err(|e| Error::io(format!("create {}", root.display()), e))?;
        move_unregioned(&root, home_region)?;
        let mut functions = Regions::new();
        for (region, dir) in folders(&root)? {
            if !valid_region(&region) {
                // A create or a deletion of the layout before regions, cut short; a function
                // that could not move stays for a look.
                if !region.starts_with(MOVING_PREFIX) {
                    let _ = std::fs::remove_dir_all(&dir);
                }
                continue;
            }
            let loaded = load_region(&dir)?;
            if loaded.is_empty() {
                let _ = std::fs::remove_dir(&dir);
            } else {
                functions.insert(region, loaded);
            }
        }
        Ok(Self {
            root,
            functions: Mutex::new(functions),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Regions> {
        self.functions.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `$LATEST` of the function `name` of `region`, if it exists.
    pub fn get(&self, region: &str, name: &str) -> Option<Function> {
        self.with(region, name, |e| e.latest.clone())
    }

    /// `f` of the function `name` of `region` (its versions and aliases), if it exists, under
    /// the lock.
    pub(crate) fn with<R>(
        &self,
        region: &str,
        name: &str,
        f: impl FnOnce(&Entry) -> R,
    ) -> Option<R> {
        self.lock().get(region).and_then(|r| r.get(name)).map(f)
    }

    /// Every function (`$LATEST`) of `region`, by name.
    pub fn list(&self, region: &str) -> Vec<Function> {
        self.lock()
            .get(region)
            .map(|r| r.values().map(|e| e.latest.clone()).collect())
            .unwrap_or_default()
    }

    /// The folder of the function `name` of `region` (its configuration, code, logs).
    pub(crate) fn function_dir(&self, region: &str, name: &str) -> PathBuf {
        self.root.join(region).join(name)
    }

    /// The folder of the unpacked code of `function` of `region` (`LAMBDA_TASK_ROOT`).
    pub fn code_path(&self, region: &str, function: &Function) -> PathBuf {
        self.function_dir(region, &function.name)
            .join(&function.code_dir)
    }

    /// The deployment package the code of `function` of `region` was unpacked from (absent
    /// for code unpacked before Sluice kept packages).
    pub(crate) fn package_path(&self, region: &str, function: &Function) -> PathBuf {
        package_path(
            &self.function_dir(region, &function.name),
            &function.code_dir,
        )
    }

    /// Creates `name` in `region` with `settings` and the code of `zip`.
    ///
    /// Holding the registry lock across the unpacking serializes writes; functions are created
    /// rarely and reads do not wait on disk (they clone under the lock).
    pub fn create(
        &self,
        region: &str,
        name: &str,
        settings: &Settings,
        zip: &[u8],
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Function, Error> {
        if !valid_name(name) {
            return Err(Error::invalid(format!(
                "1 validation error detected: Value '{name}' at 'functionName' failed to \
                 satisfy constraint: Member must satisfy regular expression pattern: \
                 [a-zA-Z0-9-_]+ and have length less than or equal to 64"
            )));
        }
        if !valid_region(region) {
            return Err(Error::invalid(format!(
                "Sluice keeps functions in regions named with lowercase letters, digits and \
                 '-' only: not '{region}'"
            )));
        }
        let mut functions = self.lock();
        if functions.get(region).is_some_and(|r| r.contains_key(name)) {
            return Err(Error::AlreadyExists { name: name.into() });
        }
        let revision = new_revision();
        let mut function = Function {
            name: name.into(),
            runtime: String::new(),
            handler: None,
            role: String::new(),
            description: String::new(),
            timeout: crate::function::limits::DEFAULT_TIMEOUT,
            memory_size: crate::function::limits::DEFAULT_MEMORY,
            environment: BTreeMap::new(),
            code_sha256: String::new(),
            code_size: 0,
            last_modified: crate::function::last_modified(now),
            revision_id: revision.clone(),
            reserved_concurrency: None,
            code_dir: format!("code-{revision}"),
            version: crate::LATEST.into(),
            last_version: 0,
            published_from: None,
        };
        if settings.runtime.is_none() {
            return Err(Error::invalid(
                "Runtime and Handler are mandatory parameters for functions created with \
                 deployment packages.",
            ));
        }
        settings.apply(&mut function)?;
        let dir = self.function_dir(region, name);
        // A half-created folder of an earlier crash may be there: start afresh.
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)
            .map_err(|e| Error::io(format!("create {}", dir.display()), e))?;
        let result = (|| {
            set_code(&mut function, zip, &dir)?;
            write_json(&dir, CONFIG_FILE, &function)
        })();
        if let Err(error) = result {
            let _ = std::fs::remove_dir_all(&dir);
            return Err(error);
        }
        functions.entry(region.to_owned()).or_default().insert(
            name.into(),
            Entry {
                latest: function.clone(),
                versions: BTreeMap::new(),
                aliases: BTreeMap::new(),
                event_configs: BTreeMap::new(),
            },
        );
        Ok(function)
    }

    /// Replaces the code of `name` with `zip`; the previous code folder is removed unless a
    /// published version runs it.
    pub fn update_code(
        &self,
        region: &str,
        name: &str,
        zip: &[u8],
        now: chrono::DateTime<chrono::Utc>,
        not_found: impl FnOnce() -> Error,
    ) -> Result<Function, Error> {
        let mut functions = self.lock();
        let Some(entry) = functions.get_mut(region).and_then(|r| r.get_mut(name)) else {
            return Err(not_found());
        };
        let mut function = entry.latest.clone();
        let revision = new_revision();
        function.code_dir = format!("code-{revision}");
        function.revision_id = revision;
        function.last_modified = crate::function::last_modified(now);
        let dir = self.function_dir(region, name);
        if let Err(error) = set_code(&mut function, zip, &dir) {
            remove_code(&dir, &function.code_dir);
            return Err(error);
        }
        if let Err(error) = write_json(&dir, CONFIG_FILE, &function) {
            remove_code(&dir, &function.code_dir);
            return Err(error);
        }
        let old = std::mem::replace(&mut entry.latest, function.clone());
        if !entry.uses_code(&old.code_dir) {
            remove_code(&dir, &old.code_dir);
        }
        Ok(function)
    }

    /// Applies `change` to `$LATEST`'s configuration of `name` and persists it (a new
    /// revision).
    pub fn update(
        &self,
        region: &str,
        name: &str,
        now: chrono::DateTime<chrono::Utc>,
        not_found: impl FnOnce() -> Error,
        change: impl FnOnce(&mut Function) -> Result<(), Error>,
    ) -> Result<Function, Error> {
        let mut functions = self.lock();
        let Some(entry) = functions.get_mut(region).and_then(|r| r.get_mut(name)) else {
            return Err(not_found());
        };
        let mut function = entry.latest.clone();
        change(&mut function)?;
        function.revision_id = new_revision();
        function.last_modified = crate::function::last_modified(now);
        write_json(&self.function_dir(region, name), CONFIG_FILE, &function)?;
        entry.latest = function.clone();
        Ok(function)
    }

    /// Deletes `name`, its versions, aliases and code. The folder is renamed away first, so a
    /// crash midway never leaves a function half there.
    pub fn delete(
        &self,
        region: &str,
        name: &str,
        not_found: impl FnOnce() -> Error,
    ) -> Result<Function, Error> {
        let mut functions = self.lock();
        let Some(entry) = functions.get_mut(region).and_then(|r| r.remove(name)) else {
            return Err(not_found());
        };
        let dir = self.function_dir(region, name);
        let region_dir = self.root.join(region);
        let grave = region_dir.join(format!(".deleted-{name}-{}", new_revision()));
        if let Err(e) = std::fs::rename(&dir, &grave) {
            functions
                .entry(region.to_owned())
                .or_default()
                .insert(name.into(), entry);
            return Err(Error::io(format!("delete {}", dir.display()), e));
        }
        sync_dir(&region_dir);
        let _ = std::fs::remove_dir_all(&grave);
        Ok(entry.latest)
    }

    /// Publishes a version of `name`: a snapshot of `$LATEST` numbered after the last one
    /// (`description` overrides `$LATEST`'s). When `$LATEST` has not changed since the last
    /// version was published, that version is returned instead. `check` sees `$LATEST` first
    /// (the caller's preconditions). `$LATEST` gets a new revision id.
    pub(crate) fn publish(
        &self,
        region: &str,
        name: &str,
        description: Option<&str>,
        not_found: impl FnOnce() -> Error,
        check: impl FnOnce(&Function) -> Result<(), Error>,
    ) -> Result<Function, Error> {
        let mut functions = self.lock();
        let Some(entry) = functions.get_mut(region).and_then(|r| r.get_mut(name)) else {
            return Err(not_found());
        };
        check(&entry.latest)?;
        let fingerprint = entry.latest.fingerprint();
        if let Some(last) = entry.versions.get(&entry.latest.last_version)
            && last.published_from.as_deref() == Some(fingerprint.as_str())
        {
            return Ok(last.clone());
        }
        let number = entry.latest.last_version + 1;
        let mut version = entry.latest.clone();
        version.version = number.to_string();
        version.last_version = 0;
        version.published_from = Some(fingerprint);
        version.revision_id = new_revision();
        version.reserved_concurrency = None;
        if let Some(description) = description {
            version.description = description.to_owned();
        }
        let mut latest = entry.latest.clone();
        latest.last_version = number;
        latest.revision_id = new_revision();
        let dir = self.function_dir(region, name);
        let versions = dir.join(VERSIONS_DIR);
        std::fs::create_dir_all(&versions)
            .map_err(|e| Error::io(format!("create {}", versions.display()), e))?;
        sync_dir(&dir);
        let file = format!("{number}.json");
        write_json(&versions, &file, &version)?;
        // Were this write lost, the version's file still holds its number (`open`).
        if let Err(error) = write_json(&dir, CONFIG_FILE, &latest) {
            let _ = std::fs::remove_file(versions.join(&file));
            return Err(error);
        }
        entry.latest = latest;
        entry.versions.insert(number, version.clone());
        Ok(version)
    }

    /// Deletes version `number` of `name` (nothing when there is no such version), refused
    /// while an alias uses it. Its code goes unless `$LATEST` or another version runs it.
    pub(crate) fn delete_version(
        &self,
        region: &str,
        name: &str,
        number: u64,
        not_found: impl FnOnce() -> Error,
    ) -> Result<Option<Function>, Error> {
        let mut functions = self.lock();
        let Some(entry) = functions.get_mut(region).and_then(|r| r.get_mut(name)) else {
            return Err(not_found());
        };
        let version = number.to_string();
        let users: Vec<&str> = entry
            .aliases
            .values()
            .filter(|a| a.uses(&version))
            .map(|a| a.name.as_str())
            .collect();
        if !users.is_empty() {
            return Err(Error::Conflict {
                message: format!(
                    "Unable to delete version because the following aliases reference it: [{}]",
                    users.join(", ")
                ),
            });
        }
        if !entry.versions.contains_key(&number) {
            return Ok(None);
        }
        let dir = self.function_dir(region, name);
        let versions = dir.join(VERSIONS_DIR);
        let file = versions.join(format!("{number}.json"));
        std::fs::remove_file(&file)
            .map_err(|e| Error::io(format!("delete {}", file.display()), e))?;
        sync_dir(&versions);
        let removed = entry.versions.remove(&number).expect("checked");
        if !entry.uses_code(&removed.code_dir) {
            remove_code(&dir, &removed.code_dir);
        }
        // Its event invoke config goes with it (left behind by a failure: `open` drops it).
        remove_event_config(&dir, entry, &version);
        Ok(Some(removed))
    }

    /// Creates or replaces alias `alias` of `name` with what `change` makes of the function and
    /// the alias as it is (`None`: no such alias yet), and persists the aliases.
    pub(crate) fn put_alias(
        &self,
        region: &str,
        name: &str,
        alias: &str,
        not_found: impl FnOnce() -> Error,
        change: impl FnOnce(&Entry, Option<&Alias>) -> Result<Alias, Error>,
    ) -> Result<Alias, Error> {
        let mut functions = self.lock();
        let Some(entry) = functions.get_mut(region).and_then(|r| r.get_mut(name)) else {
            return Err(not_found());
        };
        let new = change(entry, entry.aliases.get(alias))?;
        let mut aliases = entry.aliases.clone();
        aliases.insert(alias.to_owned(), new.clone());
        write_json(&self.function_dir(region, name), ALIASES_FILE, &aliases)?;
        entry.aliases = aliases;
        Ok(new)
    }

    /// Deletes alias `alias` of `name` (nothing when there is no such alias).
    pub(crate) fn delete_alias(
        &self,
        region: &str,
        name: &str,
        alias: &str,
        not_found: impl FnOnce() -> Error,
    ) -> Result<Option<Alias>, Error> {
        let mut functions = self.lock();
        let Some(entry) = functions.get_mut(region).and_then(|r| r.get_mut(name)) else {
            return Err(not_found());
        };
        if !entry.aliases.contains_key(alias) {
            return Ok(None);
        }
        let mut aliases = entry.aliases.clone();
        let removed = aliases.remove(alias);
        let dir = self.function_dir(region, name);
        write_json(&dir, ALIASES_FILE, &aliases)?;
        entry.aliases = aliases;
        remove_event_config(&dir, entry, alias);
        Ok(removed)
    }

    /// Applies `change` to the event invoke configs of `name` (given the function as it is)
    /// and persists them when they changed.
    pub(crate) fn update_event_configs<R>(
        &self,
        region: &str,
        name: &str,
        not_found: impl FnOnce() -> Error,
        change: impl FnOnce(&Entry, &mut BTreeMap<String, EventInvokeConfig>) -> Result<R, Error>,
    ) -> Result<R, Error> {
        let mut functions = self.lock();
        let Some(entry) = functions.get_mut(region).and_then(|r| r.get_mut(name)) else {
            return Err(not_found());
        };
        let mut configs = entry.event_configs.clone();
        let result = change(entry, &mut configs)?;
        if configs != entry.event_configs {
            write_json(
                &self.function_dir(region, name),
                EVENT_CONFIGS_FILE,
                &configs,
            )?;
            entry.event_configs = configs;
        }
        Ok(result)
    }
}

/// The folders in `dir`, by name (names that are not UTF-8 are skipped).
fn folders(dir: &Path) -> Result<Vec<(String, PathBuf)>, Error> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| Error::io(format!("read {}", dir.display()), e))?;
    let mut folders = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(format!("read {}", dir.display()), e))?;
        let path = entry.path();
        if let Some(name) = path.file_name().and_then(|n| n.to_str())
            && path.is_dir()
        {
            folders.push((name.to_owned(), path.clone()));
        }
    }
    Ok(folders)
}

/// Moves the functions of the layout before regions (`<root>/<name>/function.json`) into
/// `<root>/<home_region>/<name>/`: first aside to `<root>/.moving-<name>` (a region folder may
/// have the name of one), then into the region's folder.
fn move_unregioned(root: &Path, home_region: &str) -> Result<(), Error> {
    let rename = |from: &Path, to: &Path| {
        std::fs::rename(from, to)
            .map_err(|e| Error::io(format!("move {} to {}", from.display(), to.display()), e))
    };
    let mut moving = Vec::new();
    for (name, dir) in folders(root)? {
        if let Some(function) = name.strip_prefix(MOVING_PREFIX) {
            moving.push((function.to_owned(), dir));
        } else if valid_name(&name) && dir.join(CONFIG_FILE).is_file() {
            let aside = root.join(format!("{MOVING_PREFIX}{name}"));
            rename(&dir, &aside)?;
            moving.push((name, aside));
        }
    }
    if moving.is_empty() {
        return Ok(());
    }
    sync_dir(root);
    let region = root.join(home_region);
    std::fs::create_dir_all(&region)
        .map_err(|e| Error::io(format!("create {}", region.display()), e))?;
    for (name, dir) in moving {
        let target = region.join(&name);
        if !valid_name(&name) || target.exists() {
            tracing::warn!(
                folder = %dir.display(),
                "a function of the layout before regions cannot move to {}: left where it is",
                target.display()
            );
            continue;
        }
        rename(&dir, &target)?;
        tracing::info!(function = %name, region = %home_region, "function moved into its region's folder");
    }
    sync_dir(&region);
    sync_dir(root);
    Ok(())
}

/// The functions in a region's folder `dir`; what a crash left behind is removed.
fn load_region(dir: &Path) -> Result<BTreeMap<String, Entry>, Error> {
    let mut functions = BTreeMap::new();
    for (name, dir) in folders(dir)? {
        let config = dir.join(CONFIG_FILE);
        if !valid_name(&name) || !config.exists() {
            // A create that crashed before its configuration was written, or a deletion.
            let _ = std::fs::remove_dir_all(&dir);
            continue;
        }
        let mut latest: Function = read_json(&config)?;
        let versions = read_versions(&dir.join(VERSIONS_DIR))?;
        if let Some(last) = versions.keys().next_back() {
            latest.last_version = latest.last_version.max(*last);
        }
        let aliases_file = dir.join(ALIASES_FILE);
        let aliases = if aliases_file.exists() {
            read_json(&aliases_file)?
        } else {
            BTreeMap::new()
        };
        let configs_file = dir.join(EVENT_CONFIGS_FILE);
        let event_configs = if configs_file.exists() {
            read_json(&configs_file)?
        } else {
            BTreeMap::new()
        };
        let mut entry = Entry {
            latest,
            versions,
            aliases,
            event_configs,
        };
        // A crash between deleting a version or alias and its config leaves the config.
        let stale: Vec<String> = entry
            .event_configs
            .keys()
            .filter(|q| !entry.has_qualifier(q))
            .cloned()
            .collect();
        for qualifier in stale {
            entry.event_configs.remove(&qualifier);
        }
        remove_leftovers(&dir, &entry);
        functions.insert(name, entry);
    }
    Ok(functions)
}

/// Removes the event invoke config of `qualifier` (a deleted version or alias), if any.
fn remove_event_config(dir: &Path, entry: &mut Entry, qualifier: &str) {
    if !entry.event_configs.contains_key(qualifier) {
        return;
    }
    entry.event_configs.remove(qualifier);
    // Were this write lost, `open` drops configs of qualifiers that do not exist.
    if let Err(error) = write_json(dir, EVENT_CONFIGS_FILE, &entry.event_configs) {
        tracing::warn!(%error, "cannot remove an event invoke config");
    }
}

/// Unpacks `zip` into `dir/<function.code_dir>`, keeps the zip itself beside it
/// (`<code_dir>.zip`, what GetFunction's `Code.Location` downloads) and records its size and
/// hash.
fn set_code(function: &mut Function, zip: &[u8], dir: &Path) -> Result<(), Error> {
    archive::check_zipped_size(zip.len() as u64)?;
    let code = dir.join(&function.code_dir);
    archive::unpack(zip, &code)?;
    sync_dir(&code);
    let package = package_path(dir, &function.code_dir);
    std::fs::write(&package, zip)
        .map_err(|e| Error::io(format!("write {}", package.display()), e))?;
    function.code_size = zip.len() as u64;
    function.code_sha256 =
        base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(zip));
    Ok(())
}

/// Writes `dir/file` atomically: temporary file, fsync, rename, fsync of the folder.
fn write_json(dir: &Path, file: &str, value: &impl serde::Serialize) -> Result<(), Error> {
    let text = serde_json::to_vec_pretty(value)
        .map_err(|e| Error::io(format!("serialize {file}"), std::io::Error::other(e)))?;
    let tmp = dir.join(format!("{file}.tmp"));
    let path = dir.join(file);
    let write = || -> std::io::Result<()> {
        let mut out = std::fs::File::create(&tmp)?;
        out.write_all(&text)?;
        out.sync_all()?;
        std::fs::rename(&tmp, &path)?;
        Ok(())
    };
    write().map_err(|e| Error::io(format!("write {}", path.display()), e))?;
    sync_dir(dir);
    Ok(())
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, Error> {
    let text = std::fs::read(path).map_err(|e| Error::io(format!("read {}", path.display()), e))?;
    serde_json::from_slice(&text).map_err(|e| Error::Corrupt {
        path: path.to_owned(),
        detail: e.to_string(),
    })
}

/// The published versions in `dir` (`<n>.json`), by number; temporary files are removed.
fn read_versions(dir: &Path) -> Result<BTreeMap<u64, Function>, Error> {
    let mut versions = BTreeMap::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(versions),
        Err(e) => return Err(Error::io(format!("read {}", dir.display()), e)),
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let file = entry.file_name();
        let file = file.to_string_lossy();
        if file.ends_with(".tmp") {
            let _ = std::fs::remove_file(&path);
            continue;
        }
        let Some(number) = file
            .strip_suffix(".json")
            .and_then(|n| n.parse::<u64>().ok())
        else {
            continue;
        };
        versions.insert(number, read_json(&path)?);
    }
    Ok(versions)
}

/// Makes renames and creations in `dir` durable (best effort where the OS cannot).
fn sync_dir(dir: &Path) {
    if let Ok(file) = std::fs::File::open(dir) {
        let _ = file.sync_all();
    }
}

/// The deployment package kept beside the code folder `code_dir` of the function in `dir`.
pub(crate) fn package_path(dir: &Path, code_dir: &str) -> PathBuf {
    dir.join(format!("{code_dir}.zip"))
}

/// Removes the code folder `code_dir` of the function in `dir` and its package.
fn remove_code(dir: &Path, code_dir: &str) {
    let _ = std::fs::remove_dir_all(dir.join(code_dir));
    let _ = std::fs::remove_file(package_path(dir, code_dir));
}

/// Removes code folders (and packages) no configuration of `entry` names, and temporary files.
fn remove_leftovers(dir: &Path, entry: &Entry) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for file in entries.flatten() {
        let name = file.file_name();
        let name = name.to_string_lossy();
        if name.starts_with("code-") {
            let code_dir = name.strip_suffix(".zip").unwrap_or(&name);
            if !entry.uses_code(code_dir) {
                remove_code(dir, code_dir);
            }
        } else if name.ends_with(".tmp") {
            let _ = std::fs::remove_file(file.path());
        }
    }
}

/// A fresh revision id (a UUID).
pub(crate) fn new_revision() -> String {
    crate::ids::uuid_v4()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::archive::tests::zip_of;

    /// The region the tests' functions live in (also the configured one).
    const R: &str = "us-east-1";

    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("sluice-registry-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    fn python() -> Settings {
        Settings {
            runtime: Some("python3.12".into()),
            handler: Some("handler.handler".into()),
            role: Some("arn:aws:iam::000000000000:role/r".into()),
            environment: Some(BTreeMap::from([("GREETING".into(), "hi".into())])),
            ..Settings::default()
        }
    }

    fn now() -> chrono::DateTime<chrono::Utc> {
        chrono::Utc::now()
    }

    #[test]
    fn functions_survive_a_reopen() {
        let data = scratch("reopen");
        let zip = zip_of(&[("handler.py", b"def handler(e, c): return e\n", 0o644)]);
        {
            let registry = Registry::open(&data, R).unwrap();
            let f = registry.create(R, "echo", &python(), &zip, now()).unwrap();
            assert_eq!(f.timeout, 3);
            assert_eq!(f.memory_size, 128);
            assert_eq!(f.code_size, zip.len() as u64);
            assert_eq!(f.code_sha256.len(), 44);
            assert!(registry.code_path(R, &f).join("handler.py").exists());
            let e = registry
                .create(R, "echo", &python(), &zip, now())
                .unwrap_err();
            assert_eq!(e.code(), "ResourceConflictException");
            assert_eq!(e.to_string(), "Function already exist: echo");
        }
        let registry = Registry::open(&data, R).unwrap();
        let f = registry.get(R, "echo").unwrap();
        assert_eq!(f.environment["GREETING"], "hi");
        assert!(registry.code_path(R, &f).join("handler.py").exists());

        // New code: a new folder, the old one gone, still there after a reopen.
        let zip2 = zip_of(&[("handler.py", b"def handler(e, c): return 2\n", 0o644)]);
        let g = registry
            .update_code(R, "echo", &zip2, now(), || unreachable!())
            .unwrap();
        assert_ne!(g.code_dir, f.code_dir);
        assert_ne!(g.revision_id, f.revision_id);
        assert!(!registry.code_path(R, &f).exists());
        let h = registry
            .update(
                R,
                "echo",
                now(),
                || unreachable!(),
                |f| {
                    f.timeout = 7;
                    Ok(())
                },
            )
            .unwrap();
        drop(registry);
        let registry = Registry::open(&data, R).unwrap();
        assert_eq!(registry.get(R, "echo").unwrap(), h);
        assert_eq!(registry.get(R, "echo").unwrap().timeout, 7);

        registry.delete(R, "echo", || Error::ShuttingDown).unwrap();
        assert!(registry.get(R, "echo").is_none());
        drop(registry);
        assert!(Registry::open(&data, R).unwrap().list(R).is_empty());
        let _ = std::fs::remove_dir_all(&data);
    }

    #[test]
    fn crash_leftovers_are_cleaned_and_bad_code_leaves_nothing() {
        let data = scratch("leftovers");
        let registry = Registry::open(&data, R).unwrap();
        let zip = zip_of(&[("handler.py", b"x = 1\n", 0o644)]);
        let f = registry.create(R, "f", &python(), &zip, now()).unwrap();
        let dir = data.join("functions/us-east-1/f");
        // What a crash in the middle of an update or a create leaves.
        std::fs::create_dir_all(dir.join("code-stale")).unwrap();
        std::fs::write(dir.join("code-stale.zip"), b"PK").unwrap();
        std::fs::write(dir.join("function.json.tmp"), b"{").unwrap();
        std::fs::create_dir_all(data.join("functions/us-east-1/half/code-x")).unwrap();
        drop(registry);
        let registry = Registry::open(&data, R).unwrap();
        assert!(!dir.join("code-stale").exists() && !dir.join("code-stale.zip").exists());
        assert!(!dir.join("function.json.tmp").exists());
        assert!(!data.join("functions/us-east-1/half").exists());
        assert!(dir.join(&f.code_dir).exists() && registry.package_path(R, &f).exists());

        let slip = zip_of(&[("../../evil.py", b"x", 0o644)]);
        let e = registry
            .create(R, "g", &python(), &slip, now())
            .unwrap_err();
        assert_eq!(e.code(), "InvalidParameterValueException");
        assert!(registry.get(R, "g").is_none());
        assert!(!data.join("functions/us-east-1/g").exists());
        let e = registry
            .update_code(R, "f", &slip, now(), || unreachable!())
            .unwrap_err();
        assert_eq!(e.code(), "InvalidParameterValueException");
        assert_eq!(registry.get(R, "f").unwrap(), f);
        // function.json, the code folder and its package.
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 3);
        let _ = std::fs::remove_dir_all(&data);
    }

    fn alias(name: &str, version: &str, routing: &[(&str, f64)]) -> Alias {
        Alias {
            name: name.into(),
            function_version: version.into(),
            description: String::new(),
            routing: routing.iter().map(|(v, w)| ((*v).to_owned(), *w)).collect(),
            revision_id: new_revision(),
        }
    }

    #[test]
    fn versions_and_aliases_survive_a_reopen_and_share_code() {
        let data = scratch("versions");
        let dir = data.join("functions/us-east-1/f");
        let zip1 = zip_of(&[("handler.py", b"def handler(e, c): return 1\n", 0o644)]);
        let zip2 = zip_of(&[("handler.py", b"def handler(e, c): return 2\n", 0o644)]);
        let registry = Registry::open(&data, R).unwrap();
        let created = registry.create(R, "f", &python(), &zip1, now()).unwrap();
        let missing = || Error::ShuttingDown;
        let ok = |_: &Function| Ok(());

        // Version 1 snapshots $LATEST and shares its code folder; $LATEST gets a new revision.
        let v1 = registry
            .publish(R, "f", Some("first"), missing, ok)
            .unwrap();
        assert_eq!(
            (v1.version.as_str(), v1.description.as_str()),
            ("1", "first")
        );
        assert_eq!(v1.code_dir, created.code_dir);
        assert_ne!(v1.revision_id, created.revision_id);
        let latest = registry.get(R, "f").unwrap();
        assert_eq!(latest.last_version, 1);
        assert_ne!(latest.revision_id, created.revision_id);
        // Nothing changed: the same version again.
        assert_eq!(registry.publish(R, "f", None, missing, ok).unwrap(), v1);
        // New code: $LATEST moves to a new folder, version 1 keeps the old one.
        registry.update_code(R, "f", &zip2, now(), missing).unwrap();
        assert!(dir.join(&v1.code_dir).join("handler.py").exists());
        let v2 = registry.publish(R, "f", None, missing, ok).unwrap();
        assert_eq!(v2.version, "2");
        assert_ne!(v2.code_dir, v1.code_dir);
        assert_ne!(v2.code_sha256, v1.code_sha256);
        // A failed precondition publishes nothing.
        let refused = registry.publish(R, "f", None, missing, |_| Err(Error::PreconditionFailed));
        assert_eq!(refused.unwrap_err().code(), "PreconditionFailedException");

        let live = alias("live", "1", &[("2", 0.5)]);
        let put = registry
            .put_alias(R, "f", "live", missing, |entry, existing| {
                assert!(existing.is_none() && entry.versions.len() == 2);
                Ok(live.clone())
            })
            .unwrap();
        assert_eq!(put, live);
        drop(registry);

        let registry = Registry::open(&data, R).unwrap();
        let (versions, aliases, last) = registry
            .with(R, "f", |e| {
                (e.versions.clone(), e.aliases.clone(), e.latest.last_version)
            })
            .unwrap();
        assert_eq!(versions.keys().copied().collect::<Vec<_>>(), [1, 2]);
        assert_eq!(versions[&1], v1);
        assert_eq!(versions[&2], v2);
        assert_eq!(aliases["live"], live);
        assert_eq!(last, 2);
        assert!(dir.join(&v1.code_dir).exists() && dir.join(&v2.code_dir).exists());
        // Each code folder keeps the zip it was unpacked from.
        assert_eq!(std::fs::read(registry.package_path(R, &v1)).unwrap(), zip1);
        assert_eq!(std::fs::read(registry.package_path(R, &v2)).unwrap(), zip2);

        // A version an alias uses (also by its routing) stays.
        let e = registry.delete_version(R, "f", 2, missing).unwrap_err();
        assert_eq!(e.code(), "ResourceConflictException");
        assert_eq!(
            e.to_string(),
            "Unable to delete version because the following aliases reference it: [live]"
        );
        registry.delete_alias(R, "f", "live", missing).unwrap();
        assert_eq!(
            registry.delete_alias(R, "f", "live", missing).unwrap(),
            None
        );
        // Version 1's code goes with it; version 2's is $LATEST's too.
        assert_eq!(
            registry.delete_version(R, "f", 1, missing).unwrap(),
            Some(v1.clone())
        );
        assert_eq!(registry.delete_version(R, "f", 1, missing).unwrap(), None);
        assert!(!dir.join(&v1.code_dir).exists());
        assert!(!registry.package_path(R, &v1).exists());
        registry.delete_version(R, "f", 2, missing).unwrap();
        assert!(dir.join(&v2.code_dir).exists() && registry.package_path(R, &v2).exists());
        // Numbers are never reused, also after a reopen.
        registry
            .update(R, "f", now(), missing, |f| {
                f.timeout = 9;
                Ok(())
            })
            .unwrap();
        drop(registry);
        let registry = Registry::open(&data, R).unwrap();
        assert!(registry.with(R, "f", |e| e.aliases.is_empty()).unwrap());
        let v3 = registry.publish(R, "f", None, missing, ok).unwrap();
        assert_eq!((v3.version.as_str(), v3.timeout), ("3", 9));
        let _ = std::fs::remove_dir_all(&data);
    }

    #[test]
    fn a_publish_cut_short_keeps_its_number_and_leftovers_go() {
        let data = scratch("publish-crash");
        let dir = data.join("functions/us-east-1/f");
        let zip = zip_of(&[("handler.py", b"x = 1\n", 0o644)]);
        let registry = Registry::open(&data, R).unwrap();
        registry.create(R, "f", &python(), &zip, now()).unwrap();
        let v1 = registry
            .publish(R, "f", None, || Error::ShuttingDown, |_| Ok(()))
            .unwrap();
        drop(registry);
        // As if function.json had not been rewritten after versions/1.json, plus temporaries.
        let mut latest: Function =
            serde_json::from_slice(&std::fs::read(dir.join(CONFIG_FILE)).unwrap()).unwrap();
        latest.last_version = 0;
        std::fs::write(dir.join(CONFIG_FILE), serde_json::to_vec(&latest).unwrap()).unwrap();
        std::fs::write(dir.join("versions/2.json.tmp"), b"{").unwrap();
        std::fs::write(dir.join("aliases.json.tmp"), b"{").unwrap();
        let registry = Registry::open(&data, R).unwrap();
        assert_eq!(registry.get(R, "f").unwrap().last_version, 1);
        assert_eq!(
            registry.with(R, "f", |e| e.versions[&1].clone()).unwrap(),
            v1
        );
        assert!(!dir.join("versions/2.json.tmp").exists());
        assert!(!dir.join("aliases.json.tmp").exists());
        registry
            .update(
                R,
                "f",
                now(),
                || Error::ShuttingDown,
                |f| {
                    f.memory_size = 256;
                    Ok(())
                },
            )
            .unwrap();
        let v2 = registry
            .publish(R, "f", None, || Error::ShuttingDown, |_| Ok(()))
            .unwrap();
        assert_eq!(v2.version, "2");
        let _ = std::fs::remove_dir_all(&data);
    }

    #[test]
    fn event_invoke_configs_survive_a_reopen_and_go_with_their_qualifier() {
        let data = scratch("event-configs");
        let zip = zip_of(&[("handler.py", b"x = 1\n", 0o644)]);
        let missing = || Error::ShuttingDown;
        let config = |retries: u32| EventInvokeConfig {
            maximum_retry_attempts: Some(retries),
            last_modified_ms: 1,
            ..EventInvokeConfig::default()
        };
        let registry = Registry::open(&data, R).unwrap();
        registry.create(R, "f", &python(), &zip, now()).unwrap();
        registry.publish(R, "f", None, missing, |_| Ok(())).unwrap();
        registry
            .put_alias(R, "f", "live", missing, |_, _| Ok(alias("live", "1", &[])))
            .unwrap();
        for (qualifier, retries) in [("$LATEST", 0), ("1", 1), ("live", 2)] {
            registry
                .update_event_configs(R, "f", missing, |entry, configs| {
                    assert!(entry.has_qualifier(qualifier));
                    configs.insert(qualifier.into(), config(retries));
                    Ok(())
                })
                .unwrap();
        }
        drop(registry);
        let registry = Registry::open(&data, R).unwrap();
        let configs = registry.with(R, "f", |e| e.event_configs.clone()).unwrap();
        assert_eq!(configs.len(), 3);
        assert_eq!(configs["1"], config(1));
        // Deleting the alias, then the version, takes their configs.
        registry.delete_alias(R, "f", "live", missing).unwrap();
        registry.delete_version(R, "f", 1, missing).unwrap();
        drop(registry);
        let registry = Registry::open(&data, R).unwrap();
        let configs = registry.with(R, "f", |e| e.event_configs.clone()).unwrap();
        assert_eq!(configs.keys().collect::<Vec<_>>(), ["$LATEST"]);
        // A config whose qualifier is gone (a crash between the two writes) is dropped.
        let dir = data.join("functions/us-east-1/f");
        let stale = BTreeMap::from([
            ("$LATEST".to_owned(), config(0)),
            ("9".to_owned(), config(2)),
        ]);
        std::fs::write(
            dir.join(EVENT_CONFIGS_FILE),
            serde_json::to_vec(&stale).unwrap(),
        )
        .unwrap();
        drop(registry);
        let registry = Registry::open(&data, R).unwrap();
        assert_eq!(registry.with(R, "f", |e| e.event_configs.len()).unwrap(), 1);
        let _ = std::fs::remove_dir_all(&data);
    }

    #[test]
    fn regions_hold_namesakes_independently() {
        let data = scratch("regions");
        let zip = zip_of(&[("handler.py", b"x = 1\n", 0o644)]);
        let missing = || Error::ShuttingDown;
        let registry = Registry::open(&data, R).unwrap();
        let east = registry.create(R, "f", &python(), &zip, now()).unwrap();
        let west = registry
            .create("us-west-2", "f", &python(), &zip, now())
            .unwrap();
        assert!(data.join("functions/us-west-2/f/function.json").is_file());
        registry
            .publish("us-west-2", "f", None, missing, |_| Ok(()))
            .unwrap();
        registry
            .put_alias("us-west-2", "f", "live", missing, |_, _| {
                Ok(alias("live", "1", &[]))
            })
            .unwrap();
        assert!(
            registry
                .with(R, "f", |e| e.versions.is_empty() && e.aliases.is_empty())
                .unwrap()
        );
        assert_eq!(registry.list("us-west-2").len(), 1);
        assert!(registry.list("eu-west-1").is_empty());
        drop(registry);
        let registry = Registry::open(&data, "eu-west-1").unwrap();
        assert_eq!(registry.get(R, "f").unwrap(), east);
        assert_eq!(registry.get("us-west-2", "f").unwrap().last_version, 1);
        assert_eq!(
            registry.get("us-west-2", "f").unwrap().code_dir,
            west.code_dir
        );
        registry.delete("us-west-2", "f", missing).unwrap();
        assert!(registry.get("us-west-2", "f").is_none() && registry.get(R, "f").is_some());
        drop(registry);
        // An emptied region's folder goes.
        let registry = Registry::open(&data, R).unwrap();
        assert!(!data.join("functions/us-west-2").exists());
        assert_eq!(registry.list(R).len(), 1);
        let e = registry
            .create("../x", "g", &python(), &zip, now())
            .unwrap_err();
        assert_eq!(e.code(), "InvalidParameterValueException");
        let _ = std::fs::remove_dir_all(&data);
    }

    #[test]
    fn functions_from_before_regions_move_into_the_configured_region() {
        let data = scratch("unregioned");
        let zip = zip_of(&[("handler.py", b"x = 1\n", 0o644)]);
        let registry = Registry::open(&data, R).unwrap();
        let f = registry.create(R, "f", &python(), &zip, now()).unwrap();
        let g = registry
            .create(R, "eu-west-1", &python(), &zip, now())
            .unwrap();
        registry
            .publish(R, "f", None, || Error::ShuttingDown, |_| Ok(()))
            .unwrap();
        drop(registry);
        // The layout before regions: <root>/<name>/. A function named like the region it moves
        // to, and one whose move a crash cut short, move too.
        let root = data.join("functions");
        std::fs::rename(root.join(R).join("f"), root.join("f")).unwrap();
        std::fs::rename(
            root.join(R).join("eu-west-1"),
            root.join(".moving-eu-west-1"),
        )
        .unwrap();
        std::fs::remove_dir(root.join(R)).unwrap();
        std::fs::create_dir_all(root.join(".deleted-h-1/code-x")).unwrap();
        std::fs::create_dir_all(root.join("Half/code-x")).unwrap();
        let registry = Registry::open(&data, "eu-west-1").unwrap();
        assert_eq!(registry.get("eu-west-1", "f").unwrap().name, f.name);
        assert_eq!(registry.get("eu-west-1", "eu-west-1").unwrap(), g);
        assert_eq!(
            registry
                .with("eu-west-1", "f", |e| e.versions.len())
                .unwrap(),
            1
        );
        assert!(registry.list(R).is_empty());
        let f = registry.get("eu-west-1", "f").unwrap();
        assert!(
            registry
                .code_path("eu-west-1", &f)
                .join("handler.py")
                .exists()
        );
        let mut left: Vec<String> = std::fs::read_dir(&root)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left, ["eu-west-1"]);
        drop(registry);
        // Moved for good: a reopen in another configured region finds them where they are.
        let registry = Registry::open(&data, R).unwrap();
        assert_eq!(registry.list("eu-west-1").len(), 2);
        assert!(registry.list(R).is_empty());
        let _ = std::fs::remove_dir_all(&data);
    }

    #[test]
    fn names_and_runtimes_are_checked() {
        let data = scratch("names");
        let registry = Registry::open(&data, R).unwrap();
        let zip = zip_of(&[("h.py", b"", 0o644)]);
        for bad in ["", "a/b", "..", &"x".repeat(65)] {
            assert!(
                registry.create(R, bad, &python(), &zip, now()).is_err(),
                "{bad}"
            );
        }
        let no_runtime = Settings {
            runtime: None,
            ..python()
        };
        assert!(registry.create(R, "f", &no_runtime, &zip, now()).is_err());
        let _ = std::fs::remove_dir_all(&data);
    }
}
