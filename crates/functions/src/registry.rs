//! [`Registry`]: functions persisted in the data dir.
//!
//! ```text
//! <data-dir>/functions/<name>/function.json     the configuration (crate::Function)
//! <data-dir>/functions/<name>/code-<revision>/  the unpacked code the configuration names
//! ```
//!
//! Every write is atomic: code is unpacked into a fresh `code-<revision>` folder, then
//! `function.json` is replaced through a temporary file (written, fsynced, renamed over, and
//! the folder fsynced), and only then is the previous code folder removed. A crash at any point
//! leaves the previous or the new function whole; [`Registry::open`] removes what a crash left
//! behind (temporary files, unreferenced code folders, folders without `function.json`).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use base64::Engine as _;
use sha2::Digest as _;

use crate::function::{Function, Settings, valid_name};
use crate::{Error, archive};

const CONFIG_FILE: &str = "function.json";

/// The functions of one data dir. Reads are served from memory; writes go to disk first.
#[derive(Debug)]
pub struct Registry {
    root: PathBuf,
    functions: Mutex<BTreeMap<String, Function>>,
}

impl Registry {
    /// Opens (creating if needed) `<data_dir>/functions` and loads every function.
    pub fn open(data_dir: &Path) -> Result<Self, Error> {
        let root = data_dir.join("functions");
        std::fs::create_dir_all(&root)
            .map_err(|e| Error::io(format!("create {}", root.display()), e))?;
        let mut functions = BTreeMap::new();
        let entries = std::fs::read_dir(&root)
            .map_err(|e| Error::io(format!("read {}", root.display()), e))?;
        for entry in entries {
            let entry = entry.map_err(|e| Error::io(format!("read {}", root.display()), e))?;
            let dir = entry.path();
            let Some(name) = dir.file_name().and_then(|n| n.to_str()).map(str::to_owned) else {
                continue;
            };
            if !dir.is_dir() {
                continue;
            }
            let config = dir.join(CONFIG_FILE);
            if !valid_name(&name) || !config.exists() {
                // A create that crashed before its configuration was written, or a deletion.
                let _ = std::fs::remove_dir_all(&dir);
                continue;
            }
            let text = std::fs::read(&config)
                .map_err(|e| Error::io(format!("read {}", config.display()), e))?;
            let function: Function = serde_json::from_slice(&text).map_err(|e| Error::Corrupt {
                path: config.clone(),
                detail: e.to_string(),
            })?;
            remove_leftovers(&dir, &function.code_dir);
            functions.insert(name, function);
        }
        Ok(Self {
            root,
            functions: Mutex::new(functions),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Function>> {
        self.functions.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The function `name`, if it exists.
    pub fn get(&self, name: &str) -> Option<Function> {
        self.lock().get(name).cloned()
    }

    /// Every function, by name.
    pub fn list(&self) -> Vec<Function> {
        self.lock().values().cloned().collect()
    }

    /// The folder of `function`'s unpacked code (`LAMBDA_TASK_ROOT`).
    pub fn code_path(&self, function: &Function) -> PathBuf {
        self.root.join(&function.name).join(&function.code_dir)
    }

    /// Creates `name` with `settings` and the code of `zip`.
    ///
    /// Holding the registry lock across the unpacking serializes writes; functions are created
    /// rarely and reads do not wait on disk (they clone under the lock).
    pub fn create(
        &self,
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
        let mut functions = self.lock();
        if functions.contains_key(name) {
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
        };
        if settings.runtime.is_none() {
            return Err(Error::invalid(
                "Runtime and Handler are mandatory parameters for functions created with \
                 deployment packages.",
            ));
        }
        settings.apply(&mut function)?;
        let dir = self.root.join(name);
        // A half-created folder of an earlier crash may be there: start afresh.
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)
            .map_err(|e| Error::io(format!("create {}", dir.display()), e))?;
        let result = (|| {
            set_code(&mut function, zip, &dir)?;
            write_config(&dir, &function)
        })();
        if let Err(error) = result {
            let _ = std::fs::remove_dir_all(&dir);
            return Err(error);
        }
        functions.insert(name.into(), function.clone());
        Ok(function)
    }

    /// Replaces the code of `name` with `zip`; the previous code folder is removed.
    pub fn update_code(
        &self,
        name: &str,
        zip: &[u8],
        now: chrono::DateTime<chrono::Utc>,
        not_found: impl FnOnce() -> Error,
    ) -> Result<Function, Error> {
        let mut functions = self.lock();
        let Some(current) = functions.get(name) else {
            return Err(not_found());
        };
        let mut function = current.clone();
        let revision = new_revision();
        function.code_dir = format!("code-{revision}");
        function.revision_id = revision;
        function.last_modified = crate::function::last_modified(now);
        let dir = self.root.join(name);
        if let Err(error) = set_code(&mut function, zip, &dir) {
            let _ = std::fs::remove_dir_all(dir.join(&function.code_dir));
            return Err(error);
        }
        if let Err(error) = write_config(&dir, &function) {
            let _ = std::fs::remove_dir_all(dir.join(&function.code_dir));
            return Err(error);
        }
        let old = std::mem::replace(functions.get_mut(name).expect("checked"), function.clone());
        let _ = std::fs::remove_dir_all(dir.join(old.code_dir));
        Ok(function)
    }

    /// Applies `change` to the configuration of `name` and persists it (a new revision).
    pub fn update(
        &self,
        name: &str,
        now: chrono::DateTime<chrono::Utc>,
        not_found: impl FnOnce() -> Error,
        change: impl FnOnce(&mut Function) -> Result<(), Error>,
    ) -> Result<Function, Error> {
        let mut functions = self.lock();
        let Some(current) = functions.get(name) else {
            return Err(not_found());
        };
        let mut function = current.clone();
        change(&mut function)?;
        function.revision_id = new_revision();
        function.last_modified = crate::function::last_modified(now);
        write_config(&self.root.join(name), &function)?;
        functions.insert(name.into(), function.clone());
        Ok(function)
    }

    /// Deletes `name` and its code. The folder is renamed away first, so a crash midway never
    /// leaves a function half there.
    pub fn delete(&self, name: &str, not_found: impl FnOnce() -> Error) -> Result<Function, Error> {
        let mut functions = self.lock();
        let Some(function) = functions.remove(name) else {
            return Err(not_found());
        };
        let dir = self.root.join(name);
        let grave = self
            .root
            .join(format!(".deleted-{name}-{}", new_revision()));
        if let Err(e) = std::fs::rename(&dir, &grave) {
            functions.insert(name.into(), function);
            return Err(Error::io(format!("delete {}", dir.display()), e));
        }
        sync_dir(&self.root);
        let _ = std::fs::remove_dir_all(&grave);
        Ok(function)
    }
}

/// Unpacks `zip` into `dir/<function.code_dir>` and records its size and hash.
fn set_code(function: &mut Function, zip: &[u8], dir: &Path) -> Result<(), Error> {
    archive::check_zipped_size(zip.len() as u64)?;
    let code = dir.join(&function.code_dir);
    archive::unpack(zip, &code)?;
    sync_dir(&code);
    function.code_size = zip.len() as u64;
    function.code_sha256 =
        base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(zip));
    Ok(())
}

/// Writes `function.json` atomically: temporary file, fsync, rename, fsync of the folder.
fn write_config(dir: &Path, function: &Function) -> Result<(), Error> {
    let text = serde_json::to_vec_pretty(function)
        .map_err(|e| Error::io("serialize function", std::io::Error::other(e)))?;
    let tmp = dir.join(format!("{CONFIG_FILE}.tmp"));
    let path = dir.join(CONFIG_FILE);
    let write = || -> std::io::Result<()> {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(&text)?;
        file.sync_all()?;
        std::fs::rename(&tmp, &path)?;
        Ok(())
    };
    write().map_err(|e| Error::io(format!("write {}", path.display()), e))?;
    sync_dir(dir);
    Ok(())
}

/// Makes renames and creations in `dir` durable (best effort where the OS cannot).
fn sync_dir(dir: &Path) {
    if let Ok(file) = std::fs::File::open(dir) {
        let _ = file.sync_all();
    }
}

/// Removes code folders `function.json` does not name and temporary files.
fn remove_leftovers(dir: &Path, code_dir: &str) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with("code-") && name != code_dir {
            let _ = std::fs::remove_dir_all(entry.path());
        } else if name.ends_with(".tmp") {
            let _ = std::fs::remove_file(entry.path());
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
            let registry = Registry::open(&data).unwrap();
            let f = registry.create("echo", &python(), &zip, now()).unwrap();
            assert_eq!(f.timeout, 3);
            assert_eq!(f.memory_size, 128);
            assert_eq!(f.code_size, zip.len() as u64);
            assert_eq!(f.code_sha256.len(), 44);
            assert!(registry.code_path(&f).join("handler.py").exists());
            let e = registry.create("echo", &python(), &zip, now()).unwrap_err();
            assert_eq!(e.code(), "ResourceConflictException");
            assert_eq!(e.to_string(), "Function already exist: echo");
        }
        let registry = Registry::open(&data).unwrap();
        let f = registry.get("echo").unwrap();
        assert_eq!(f.environment["GREETING"], "hi");
        assert!(registry.code_path(&f).join("handler.py").exists());

        // New code: a new folder, the old one gone, still there after a reopen.
        let zip2 = zip_of(&[("handler.py", b"def handler(e, c): return 2\n", 0o644)]);
        let g = registry
            .update_code("echo", &zip2, now(), || unreachable!())
            .unwrap();
        assert_ne!(g.code_dir, f.code_dir);
        assert_ne!(g.revision_id, f.revision_id);
        assert!(!registry.code_path(&f).exists());
        let h = registry
            .update(
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
        let registry = Registry::open(&data).unwrap();
        assert_eq!(registry.get("echo").unwrap(), h);
        assert_eq!(registry.get("echo").unwrap().timeout, 7);

        registry.delete("echo", || Error::ShuttingDown).unwrap();
        assert!(registry.get("echo").is_none());
        drop(registry);
        assert!(Registry::open(&data).unwrap().list().is_empty());
        let _ = std::fs::remove_dir_all(&data);
    }

    #[test]
    fn crash_leftovers_are_cleaned_and_bad_code_leaves_nothing() {
        let data = scratch("leftovers");
        let registry = Registry::open(&data).unwrap();
        let zip = zip_of(&[("handler.py", b"x = 1\n", 0o644)]);
        let f = registry.create("f", &python(), &zip, now()).unwrap();
        let dir = data.join("functions/f");
        // What a crash in the middle of an update or a create leaves.
        std::fs::create_dir_all(dir.join("code-stale")).unwrap();
        std::fs::write(dir.join("function.json.tmp"), b"{").unwrap();
        std::fs::create_dir_all(data.join("functions/half/code-x")).unwrap();
        drop(registry);
        let registry = Registry::open(&data).unwrap();
        assert!(!dir.join("code-stale").exists());
        assert!(!dir.join("function.json.tmp").exists());
        assert!(!data.join("functions/half").exists());
        assert!(dir.join(&f.code_dir).exists());

        let slip = zip_of(&[("../../evil.py", b"x", 0o644)]);
        let e = registry.create("g", &python(), &slip, now()).unwrap_err();
        assert_eq!(e.code(), "InvalidParameterValueException");
        assert!(registry.get("g").is_none());
        assert!(!data.join("functions/g").exists());
        let e = registry
            .update_code("f", &slip, now(), || unreachable!())
            .unwrap_err();
        assert_eq!(e.code(), "InvalidParameterValueException");
        assert_eq!(registry.get("f").unwrap(), f);
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 2);
        let _ = std::fs::remove_dir_all(&data);
    }

    #[test]
    fn names_and_runtimes_are_checked() {
        let data = scratch("names");
        let registry = Registry::open(&data).unwrap();
        let zip = zip_of(&[("h.py", b"", 0o644)]);
        for bad in ["", "a/b", "..", &"x".repeat(65)] {
            assert!(
                registry.create(bad, &python(), &zip, now()).is_err(),
                "{bad}"
            );
        }
        let no_runtime = Settings {
            runtime: None,
            ..python()
        };
        assert!(registry.create("f", &no_runtime, &zip, now()).is_err());
        let _ = std::fs::remove_dir_all(&data);
    }
}
