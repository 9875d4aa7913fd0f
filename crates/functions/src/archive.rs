//! Unpacking a function's deployment package (a zip) into its folder, safely.
//!
//! Refused, each with a precise `InvalidParameterValueException` (AWS's "Could not unzip
//! uploaded file" sentence, then what is wrong): bytes that are not a zip, entries that would
//! land outside the folder (`../x`, `/etc/x`, `C:\x`, NUL bytes), symbolic links, and more
//! unzipped bytes than AWS's 250 MB — counted on the bytes actually inflated, so a zip that
//! understates its sizes cannot fill the disk. Zips over 50 MB are refused before reading
//! (`RequestEntityTooLargeException`).

use std::io::{Read, Write};
use std::path::{Component, Path, PathBuf};

use crate::Error;
use crate::function::limits;

/// AWS's sentence for an archive it cannot unpack.
pub const CANNOT_UNZIP: &str =
    "Could not unzip uploaded file. Please check your file, then try to upload again.";

/// What unpacking produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unpacked {
    /// Files written.
    pub files: usize,
    /// Bytes written.
    pub bytes: u64,
}

/// `RequestEntityTooLargeException` if `zip` is over AWS's direct-upload quota.
pub fn check_zipped_size(len: u64) -> Result<(), Error> {
    if len > limits::MAX_ZIPPED_BYTES {
        return Err(Error::EntityTooLarge {
            message: format!(
                "Zipped size must be smaller than {} bytes",
                limits::MAX_ZIPPED_BYTES
            ),
        });
    }
    Ok(())
}

/// Unpacks `zip` into `dest` (created; must not exist), with AWS's limits.
pub fn unpack(zip: &[u8], dest: &Path) -> Result<Unpacked, Error> {
    unpack_limited(zip, dest, limits::MAX_UNZIPPED_BYTES)
}

/// [`unpack`] with another limit on unzipped bytes (tests).
pub fn unpack_limited(zip: &[u8], dest: &Path, max_unzipped: u64) -> Result<Unpacked, Error> {
    check_zipped_size(zip.len() as u64)?;
    let bad = |detail: String| Error::invalid(format!("{CANNOT_UNZIP} ({detail})"));
    let too_big = || {
        Error::invalid(format!(
            "Unzipped size must be smaller than {max_unzipped} bytes"
        ))
    };
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip))
        .map_err(|e| bad(format!("not a zip archive: {e}")))?;
    // Declared sizes first: refuse an obviously oversized package before writing anything.
    let mut declared: u64 = 0;
    for i in 0..archive.len() {
        let entry = archive
            .by_index_raw(i)
            .map_err(|e| bad(format!("entry #{i}: {e}")))?;
        declared = declared.saturating_add(entry.size());
    }
    if declared > max_unzipped {
        return Err(too_big());
    }
    std::fs::create_dir_all(dest)
        .map_err(|e| Error::io(format!("create {}", dest.display()), e))?;
    let mut written: u64 = 0;
    let mut files = 0;
    for i in 0..archive.len() {
        let mut entry = archive
            .by_index(i)
            .map_err(|e| bad(format!("entry #{i}: {e}")))?;
        let name = entry
            .name()
            .map_err(|e| bad(format!("entry #{i} has no readable name: {e}")))?
            .into_owned();
        let relative = safe_path(&name).map_err(|why| bad(format!("entry '{name}' {why}")))?;
        if entry.is_symlink() {
            return Err(bad(format!(
                "entry '{name}' is a symbolic link, which Sluice does not unpack"
            )));
        }
        let target = dest.join(&relative);
        if entry.is_dir() {
            std::fs::create_dir_all(&target)
                .map_err(|e| Error::io(format!("create {}", target.display()), e))?;
            continue;
        }
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| Error::io(format!("create {}", parent.display()), e))?;
        }
        let mode = entry.unix_mode();
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&target)
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::AlreadyExists => {
                    bad(format!("entry '{name}' appears twice in the archive"))
                }
                _ => Error::io(format!("create {}", target.display()), e),
            })?;
        // Copy at most what is left of the budget, plus one byte to notice going over.
        let budget = max_unzipped - written;
        let mut limited = (&mut entry).take(budget + 1);
        let mut buffer = [0u8; 64 * 1024];
        let mut copied: u64 = 0;
        loop {
            let n = limited
                .read(&mut buffer)
                .map_err(|e| bad(format!("entry '{name}': {e}")))?;
            if n == 0 {
                break;
            }
            copied += n as u64;
            if copied > budget {
                return Err(too_big());
            }
            file.write_all(&buffer[..n])
                .map_err(|e| Error::io(format!("write {}", target.display()), e))?;
        }
        written += copied;
        files += 1;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let executable = mode.is_some_and(|m| m & 0o111 != 0);
            let permissions = if executable { 0o755 } else { 0o644 };
            std::fs::set_permissions(&target, std::fs::Permissions::from_mode(permissions))
                .map_err(|e| Error::io(format!("chmod {}", target.display()), e))?;
        }
        #[cfg(not(unix))]
        let _ = mode;
    }
    Ok(Unpacked {
        files,
        bytes: written,
    })
}

/// A zip of the files under `dir`, the same for the same files: entries in name order, `/`
/// separated, with the modes [`unpack`] gives (755 or 644) and zip's earliest timestamp. What
/// GetFunction downloads for code unpacked before Sluice kept the uploaded zip.
pub fn pack(dir: &Path) -> Result<Vec<u8>, Error> {
    let mut files = Vec::new();
    collect_files(dir, Path::new(""), &mut files)?;
    files.sort();
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let failed = |e: zip::result::ZipError| Error::io("zip", std::io::Error::other(e));
    for (name, path) in files {
        let contents =
            std::fs::read(&path).map_err(|e| Error::io(format!("read {}", path.display()), e))?;
        let mode = if executable(&path) { 0o755 } else { 0o644 };
        let options = zip::write::SimpleFileOptions::default()
            .unix_permissions(mode)
            .last_modified_time(zip::DateTime::default());
        writer.start_file(name, options).map_err(failed)?;
        writer
            .write_all(&contents)
            .map_err(|e| Error::io("zip", e))?;
    }
    Ok(writer.finish().map_err(failed)?.into_inner())
}

/// The regular files under `dir/relative`, as (`/`-separated name, path).
fn collect_files(
    root: &Path,
    relative: &Path,
    files: &mut Vec<(String, PathBuf)>,
) -> Result<(), Error> {
    let dir = root.join(relative);
    let entries =
        std::fs::read_dir(&dir).map_err(|e| Error::io(format!("read {}", dir.display()), e))?;
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(format!("read {}", dir.display()), e))?;
        let kind = entry
            .file_type()
            .map_err(|e| Error::io(format!("read {}", entry.path().display()), e))?;
        let relative = relative.join(entry.file_name());
        if kind.is_dir() {
            collect_files(root, &relative, files)?;
        } else if kind.is_file() {
            let name = relative
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/");
            files.push((name, entry.path()));
        }
    }
    Ok(())
}

fn executable(path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o111 != 0)
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        false
    }
}

/// The entry name as a path inside the folder, or why it is not one.
fn safe_path(name: &str) -> Result<PathBuf, &'static str> {
    if name.contains('\0') {
        return Err("has a NUL byte in its name");
    }
    let normalized = name.replace('\\', "/");
    if normalized.starts_with('/') || normalized.as_bytes().get(1) == Some(&b':') {
        return Err("is an absolute path");
    }
    let mut path = PathBuf::new();
    for component in Path::new(&normalized).components() {
        match component {
            Component::Normal(part) => path.push(part),
            Component::CurDir => {}
            Component::ParentDir => return Err("escapes the function's folder (`..`)"),
            Component::RootDir | Component::Prefix(_) => return Err("is an absolute path"),
        }
    }
    if path.as_os_str().is_empty() {
        return Err("has an empty name");
    }
    Ok(path)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use zip::write::SimpleFileOptions;

    /// A zip of `(name, contents, unix mode)` entries.
    pub(crate) fn zip_of(entries: &[(&str, &[u8], u32)]) -> Vec<u8> {
        let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        for (name, contents, mode) in entries {
            let options = SimpleFileOptions::default().unix_permissions(*mode);
            writer.start_file(*name, options).unwrap();
            writer.write_all(contents).unwrap();
        }
        writer.finish().unwrap().into_inner()
    }

    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("sluice-archive-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn pack_rebuilds_what_unpack_wrote_the_same_way_each_time() {
        let dest = scratch("pack");
        let zip = zip_of(&[
            ("handler.py", b"def handler(e, c):\n    return e\n", 0o644),
            ("lib/util.py", b"X = 1\n", 0o644),
            ("bootstrap", b"#!/bin/sh\n", 0o755),
        ]);
        unpack(&zip, &dest).unwrap();
        let packed = pack(&dest).unwrap();
        assert_eq!(packed, pack(&dest).unwrap());
        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(&packed)).unwrap();
        let names: Vec<String> = archive
            .file_names()
            .map(|n| n.unwrap().into_owned())
            .collect();
        assert_eq!(names, ["bootstrap", "handler.py", "lib/util.py"]);
        let mut util = String::new();
        archive
            .by_name("lib/util.py")
            .unwrap()
            .read_to_string(&mut util)
            .unwrap();
        assert_eq!(util, "X = 1\n");
        assert_eq!(
            archive.by_name("bootstrap").unwrap().unix_mode().unwrap() & 0o777,
            0o755
        );
        let again = scratch("pack-again");
        unpack(&packed, &again).unwrap();
        let _ = std::fs::remove_dir_all(&dest);
        let _ = std::fs::remove_dir_all(&again);
    }

    #[test]
    fn unpacks_files_and_folders_with_modes() {
        let dest = scratch("ok");
        let zip = zip_of(&[
            ("handler.py", b"def handler(e, c):\n    return e\n", 0o644),
            ("lib/util.py", b"X = 1\n", 0o644),
            ("./bootstrap", b"#!/bin/sh\n", 0o755),
        ]);
        let unpacked = unpack(&zip, &dest).unwrap();
        assert_eq!(unpacked.files, 3);
        assert_eq!(
            std::fs::read_to_string(dest.join("lib/util.py")).unwrap(),
            "X = 1\n"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dest.join("bootstrap"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o755);
        }
        let _ = std::fs::remove_dir_all(&dest);
    }

    #[test]
    fn zip_slip_is_refused_precisely() {
        for (name, why) in [
            ("../evil.py", "escapes the function's folder"),
            ("a/../../evil.py", "escapes the function's folder"),
            ("/etc/evil", "is an absolute path"),
            ("C:\\evil", "is an absolute path"),
            ("..\\evil", "escapes the function's folder"),
        ] {
            let dest = scratch("slip");
            let zip = zip_of(&[(name, b"x", 0o644)]);
            let error = unpack(&zip, &dest).unwrap_err();
            assert_eq!(error.code(), "InvalidParameterValueException");
            let text = error.to_string();
            assert!(text.starts_with(CANNOT_UNZIP), "{text}");
            assert!(text.contains(why), "{name}: {text}");
            assert!(!dest.parent().unwrap().join("evil.py").exists());
        }
    }

    #[test]
    fn symlinks_are_refused() {
        let dest = scratch("symlink");
        let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        writer
            .add_symlink("link", "/etc/passwd", SimpleFileOptions::default())
            .unwrap();
        let zip = writer.finish().unwrap().into_inner();
        let error = unpack(&zip, &dest).unwrap_err();
        assert!(error.to_string().contains("symbolic link"), "{error}");
    }

    #[test]
    fn not_a_zip_and_sizes() {
        let dest = scratch("bad");
        let error = unpack(b"definitely not a zip", &dest).unwrap_err();
        assert!(error.to_string().contains("not a zip archive"), "{error}");
        let zip = zip_of(&[("big.bin", &[7u8; 10_000], 0o644)]);
        let error = unpack_limited(&zip, &dest, 5_000).unwrap_err();
        assert_eq!(
            error.to_string(),
            "Unzipped size must be smaller than 5000 bytes"
        );
        let error = check_zipped_size(limits::MAX_ZIPPED_BYTES + 1).unwrap_err();
        assert_eq!(error.code(), "RequestEntityTooLargeException");
        assert_eq!(
            error.to_string(),
            "Zipped size must be smaller than 52428800 bytes"
        );
    }
}
