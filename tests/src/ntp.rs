//! A real NTP server for the tests: chronyd serving its (this machine's) time on an address
//! of the test's network namespace, never touching this machine's clock (`-x`).

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::{wait_for, Guard};

pub struct Chrony {
    _process: Guard,
    pub log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Chrony {
    /// chronyd on `addr`:123, stratum 8 from its local clock, answering anyone.
    pub fn serve(addr: &str) -> Chrony {
        Chrony::start(addr, Command::new("chronyd"))
    }

    /// The same inside a network namespace.
    pub fn serve_in(ns: &crate::Netns, addr: &str) -> Chrony {
        Chrony::start(addr, ns.command("chronyd"))
    }

    fn start(addr: &str, mut command: Command) -> Chrony {
        let dir = tempfile::tempdir().expect("tempdir");
        let conf = dir.path().join("chrony.conf");
        std::fs::write(
            &conf,
            format!(
                "bindaddress {addr}\nport 123\nallow all\nlocal stratum 8\ncmdport 0\n\
                 pidfile {pid}\ndriftfile {drift}\n",
                pid = dir.path().join("chronyd.pid").display(),
                drift = dir.path().join("drift").display(),
            ),
        )
        .expect("chrony.conf");
        let log = dir.path().join("chronyd.log");
        let out = std::fs::File::create(&log).expect("log");
        let child = command
            .arg("-f")
            .arg(&conf)
            .args(["-d", "-x", "-u", "root"])
            .stdout(out.try_clone().expect("log"))
            .stderr(out)
            .stdin(Stdio::null())
            .spawn()
            .expect("chronyd (apt-get install chrony)");
        let c = Chrony {
            _process: Guard(child),
            log,
            _dir: dir,
        };
        wait_for("chronyd to listen", Duration::from_secs(10), || {
            std::fs::read_to_string(&c.log)
                .ok()
                .filter(|l| l.contains("chronyd version") || l.contains("Frequency"))
                .map(|_| ())
        });
        c
    }
}
