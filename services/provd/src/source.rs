//! Where provisioning files come from: TFTP servers, or a directory laid out like a TFTP
//! root (the lint, and `deskphone-sim --tftp-root`).

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Component, Path, PathBuf};

use deskphone_tftp::{ClientConfig, TftpError};

use crate::cycle::Fetched;

/// Files larger than this are refused from a directory too (the TFTP client's limit).
const MAX_FILE: u64 = 16 * 1024 * 1024;
/// Firmware bundles go to disk, not memory; this only stops a runaway transfer.
const MAX_BUNDLE: u64 = 2 * 1024 * 1024 * 1024;

#[derive(Debug, Clone)]
pub enum FileSource {
    Tftp(ClientConfig),
    /// A TFTP root on disk; every server address maps to it.
    Directory(PathBuf),
}

impl FileSource {
    /// The stand-in server address of a directory source.
    pub const DIRECTORY_SERVER: SocketAddr =
        SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::UNSPECIFIED), 69);

    pub async fn fetch(&self, server: SocketAddr, path: &str) -> Fetched {
        match self {
            FileSource::Tftp(config) => match deskphone_tftp::fetch(server, path, config).await {
                Ok(data) => Fetched::Found(data),
                Err(TftpError::NotFound) => Fetched::NotFound,
                Err(e) => Fetched::Failed(e.to_string()),
            },
            FileSource::Directory(root) => read_below(root, path),
        }
    }

    /// Fetches a large file (a firmware bundle) into `dest`, reporting progress as
    /// (bytes, announced size).
    pub async fn fetch_to_file(
        &self,
        server: SocketAddr,
        path: &str,
        dest: &Path,
        progress: impl FnMut(u64, Option<u64>),
    ) -> Fetched {
        let result = match self {
            FileSource::Tftp(config) => {
                let config = ClientConfig {
                    max_size: MAX_BUNDLE,
                    ..config.clone()
                };
                match deskphone_tftp::fetch_to_file(server, path, &config, dest, progress).await {
                    Ok(_) => Fetched::Found(Vec::new()),
                    Err(TftpError::NotFound) => Fetched::NotFound,
                    Err(e) => Fetched::Failed(e.to_string()),
                }
            }
            FileSource::Directory(root) => match below(root, path) {
                Err(f) => f,
                Ok(src) => match std::fs::copy(&src, dest) {
                    Ok(_) => Fetched::Found(Vec::new()),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Fetched::NotFound,
                    Err(e) => Fetched::Failed(format!("{}: {e}", src.display())),
                },
            },
        };
        if !matches!(result, Fetched::Found(_)) {
            let _ = std::fs::remove_file(dest);
        }
        result
    }

    /// How a server is named in messages.
    pub fn describe(&self, server: SocketAddr) -> String {
        match self {
            FileSource::Tftp(_) => format!("tftp://{server}"),
            FileSource::Directory(root) => root.display().to_string(),
        }
    }
}

/// Reads `path` below `root` the way a TFTP server in secure mode would: `/` and `..` cannot
/// leave the root.
fn read_below(root: &Path, path: &str) -> Fetched {
    let full = match below(root, path) {
        Ok(f) => f,
        Err(f) => return f,
    };
    match std::fs::metadata(&full) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Fetched::NotFound,
        Err(e) => return Fetched::Failed(format!("{}: {e}", full.display())),
        Ok(m) if !m.is_file() => {
            return Fetched::Failed(format!("{} is not a file", full.display()))
        }
        Ok(m) if m.len() > MAX_FILE => {
            return Fetched::Failed(format!(
                "{} is larger than {MAX_FILE} bytes",
                full.display()
            ))
        }
        Ok(_) => {}
    }
    match std::fs::read(&full) {
        Ok(d) => Fetched::Found(d),
        Err(e) => Fetched::Failed(format!("{}: {e}", full.display())),
    }
}

fn below(root: &Path, path: &str) -> Result<PathBuf, Fetched> {
    let mut full = root.to_path_buf();
    for c in Path::new(path).components() {
        match c {
            Component::Normal(p) => full.push(p),
            Component::RootDir | Component::CurDir => {}
            Component::ParentDir | Component::Prefix(_) => {
                return Err(Fetched::Failed(format!("{path}: outside the TFTP root")))
            }
        }
    }
    Ok(full)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directory_reads_stay_below_the_root() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("phones")).unwrap();
        std::fs::write(dir.path().join("phones/a.cnf"), "x: 1\n").unwrap();
        assert_eq!(
            read_below(dir.path(), "phones/a.cnf"),
            Fetched::Found(b"x: 1\n".to_vec())
        );
        assert_eq!(
            read_below(dir.path(), "/phones/a.cnf"),
            Fetched::Found(b"x: 1\n".to_vec())
        );
        assert_eq!(read_below(dir.path(), "b.cnf"), Fetched::NotFound);
        assert!(matches!(
            read_below(dir.path(), "../etc/passwd"),
            Fetched::Failed(_)
        ));
        assert!(matches!(
            read_below(dir.path(), "phones"),
            Fetched::Failed(_)
        ));
    }
}
