//! The runtime interface clients Sluice ships itself, compiled into the binary and written to
//! `<data-dir>/runtimes/` when the functions service opens:
//!
//! - `node/bootstrap.js` (`runtimes/node/bootstrap.js` in this crate): the Lambda Runtime API
//!   loop for `nodejs*` functions, run as `<node> bootstrap.js` (AWS's `aws-lambda-ric` npm
//!   package needs cmake and a native build; this needs nothing but `node`).

use std::path::{Path, PathBuf};

use crate::Error;

/// The Node.js runtime interface client.
const NODE_BOOTSTRAP: &str = include_str!("../runtimes/node/bootstrap.js");

/// Where the runtimes of `data_dir` live.
fn root(data_dir: &Path) -> PathBuf {
    data_dir.join("runtimes")
}

/// Writes the shipped runtimes under `data_dir` (unless already there, byte for byte) and
/// returns the path of the Node bootstrap. Replaced through a rename: a worker starting
/// meanwhile reads the old file or the new one, whole.
pub(crate) fn install(data_dir: &Path) -> Result<PathBuf, Error> {
    let dir = root(data_dir).join("node");
    let path = dir.join("bootstrap.js");
    if std::fs::read(&path).is_ok_and(|text| text == NODE_BOOTSTRAP.as_bytes()) {
        return Ok(path);
    }
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(format!("create {}", dir.display()), e))?;
    let tmp = dir.join(format!(".bootstrap.js.{}", std::process::id()));
    std::fs::write(&tmp, NODE_BOOTSTRAP)
        .and_then(|()| std::fs::rename(&tmp, &path))
        .map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            Error::io(format!("write {}", path.display()), e)
        })?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn installs_the_node_bootstrap_once() {
        let dir = std::env::temp_dir().join(format!("sluice-runtimes-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let path = install(&dir).unwrap();
        assert_eq!(path, dir.join("runtimes/node/bootstrap.js"));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), NODE_BOOTSTRAP);
        std::fs::write(&path, "stale").unwrap();
        install(&dir).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), NODE_BOOTSTRAP);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
