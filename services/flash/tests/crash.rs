//! Crash tests: a child process writing to the store is killed, and the parent checks that
//! the store holds exactly the old or exactly the new version and that `open` cleans up.
//!
//! The child is this same executable, run again with `DESKPHONE_FLASH_CRASH_CHILD` set; that
//! is why this file has its own `main` (`harness = false`). See the crate documentation for
//! what killing a process does and does not prove about power cuts.
//!
//! Environment knobs: `DESKPHONE_FLASH_CRASH_ROUNDS` (default 150) and
//! `DESKPHONE_FLASH_CRASH_SEED` (default: from the clock; printed, to replay a failure).

use std::env;
use std::fs;
use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use deskphone_flash::{FlashStore, WriteStep, HEADER_LEN};

const CHILD_ENV: &str = "DESKPHONE_FLASH_CRASH_CHILD";
const DIR_ENV: &str = "DESKPHONE_FLASH_CRASH_DIR";
const STEP_ENV: &str = "DESKPHONE_FLASH_CRASH_STEP";

const ENTRY: &str = "config";
const OLD_LEN: usize = 40_000;
const NEW_LEN: usize = 70_001;
const LOOP_LEN: usize = 256 * 1024;

type TestFn = fn();

const TESTS: &[(&str, TestFn)] = &[
    ("abort_at_every_write_step", abort_at_every_write_step),
    (
        "abort_at_every_step_of_the_first_write",
        abort_at_every_step_of_the_first_write,
    ),
    ("sigkill_at_random_moments", sigkill_at_random_moments),
];

fn main() {
    if let Ok(role) = env::var(CHILD_ENV) {
        child(&role);
    }

    // Enough of libtest's command line for `cargo test` filters and `--list`.
    let mut filters = Vec::new();
    let mut exact = false;
    let mut list = false;
    let mut args = env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--exact" => exact = true,
            "--list" => list = true,
            "--skip" | "--test-threads" | "--color" | "--format" | "--logfile" | "-Z" => {
                args.next();
            }
            a if a.starts_with('-') => {}
            a => filters.push(a.to_owned()),
        }
    }
    let selected: Vec<_> = TESTS
        .iter()
        .filter(|(name, _)| {
            filters.is_empty()
                || filters.iter().any(|f| {
                    if exact {
                        name == f
                    } else {
                        name.contains(f.as_str())
                    }
                })
        })
        .collect();
    if list {
        for (name, _) in &selected {
            println!("{name}: test");
        }
        return;
    }

    println!("\nrunning {} tests", selected.len());
    let mut failed = Vec::new();
    for (name, test) in &selected {
        let start = Instant::now();
        let ok = std::panic::catch_unwind(test).is_ok();
        println!(
            "test {name} ... {} ({:.1} s)",
            if ok { "ok" } else { "FAILED" },
            start.elapsed().as_secs_f64()
        );
        if !ok {
            failed.push(*name);
        }
    }
    println!(
        "\ntest result: {}. {} passed; {} failed\n",
        if failed.is_empty() { "ok" } else { "FAILED" },
        selected.len() - failed.len(),
        failed.len()
    );
    if !failed.is_empty() {
        std::process::exit(101);
    }
}

// ---------------------------------------------------------------------------------------
// Child side

fn child(role: &str) -> ! {
    let dir = PathBuf::from(env::var_os(DIR_ENV).expect("store directory"));
    match role {
        "step" => {
            let step: usize = env::var(STEP_ENV).unwrap().parse().unwrap();
            let step = WriteStep::ALL[step];
            no_core_dumps();
            let store = FlashStore::open(&dir).unwrap();
            store
                .write_with_hook(ENTRY, &pattern(0xBB, NEW_LEN), |s| {
                    if s == step {
                        std::process::abort();
                    }
                })
                .unwrap();
            // Not reached when the hook works; the parent sees exit code 3 and fails.
            std::process::exit(3)
        }
        "loop" => write_loop(&dir),
        _ => panic!("unknown child role {role:?}"),
    }
}

/// Rewrites the entry with version after version, reporting each on stdout once `write`
/// has returned, until killed.
fn write_loop(dir: &Path) -> ! {
    use std::io::Write;
    let store = FlashStore::open(dir).unwrap();
    let mut version = match store.read(ENTRY) {
        Ok(None) => 0,
        Ok(Some(data)) => parse_version(&data).unwrap_or_else(|e| {
            eprintln!("child found a bad entry: {e}");
            std::process::exit(4)
        }),
        Err(e) => {
            eprintln!("child cannot read the entry: {e}");
            std::process::exit(4)
        }
    };
    let mut out = std::io::stdout().lock();
    writeln!(out, "start {version}").unwrap();
    out.flush().unwrap();
    loop {
        version += 1;
        store.write(ENTRY, &versioned_payload(version)).unwrap();
        writeln!(out, "done {version}").unwrap();
        out.flush().unwrap();
    }
}

/// The child aborts on purpose; a core file for each would only litter the disk.
fn no_core_dumps() {
    let zero = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: setrlimit only reads the struct we pass.
    unsafe { libc::setrlimit(libc::RLIMIT_CORE, &zero) };
}

// ---------------------------------------------------------------------------------------
// Payloads

fn pattern(seed: u8, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| seed ^ (i as u8).wrapping_mul(31) ^ (i >> 8) as u8)
        .collect()
}

/// xorshift64*: a small deterministic generator for payloads and delays.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

/// 256 KiB: the version number, then bytes that differ from every other version's.
fn versioned_payload(version: u64) -> Vec<u8> {
    let mut rng = Rng(version.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let mut data = Vec::with_capacity(LOOP_LEN);
    data.extend_from_slice(&version.to_le_bytes());
    while data.len() < LOOP_LEN {
        data.extend_from_slice(&rng.next().to_le_bytes());
    }
    data.truncate(LOOP_LEN);
    data
}

/// The version of a payload written by `write_loop`, if it is exactly what that version
/// wrote: right length, right version number, right bytes everywhere.
fn parse_version(data: &[u8]) -> Result<u64, String> {
    if data.len() != LOOP_LEN {
        return Err(format!("{} bytes instead of {LOOP_LEN}", data.len()));
    }
    let version = u64::from_le_bytes(data[..8].try_into().unwrap());
    if version == 0 || data != versioned_payload(version).as_slice() {
        return Err(format!("content is not that of version {version}"));
    }
    Ok(version)
}

// ---------------------------------------------------------------------------------------
// Parent side

fn temp_files(dir: &Path) -> Vec<(String, u64)> {
    let mut temps: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .map(|e| {
            (
                e.file_name().into_string().unwrap(),
                e.metadata().unwrap().len(),
            )
        })
        .filter(|(n, _)| n.starts_with('.'))
        .collect();
    temps.sort();
    temps
}

fn spawn_child(role: &str, dir: &Path) -> Command {
    let mut cmd = Command::new(env::current_exe().unwrap());
    cmd.env(CHILD_ENV, role).env(DIR_ENV, dir);
    cmd
}

fn abort_at_every_write_step() {
    abort_at_every_step(Some(pattern(0xAA, OLD_LEN)));
}

fn abort_at_every_step_of_the_first_write() {
    abort_at_every_step(None);
}

fn abort_at_every_step(old: Option<Vec<u8>>) {
    let new = pattern(0xBB, NEW_LEN);
    let full_file = (HEADER_LEN + ENTRY.len() + NEW_LEN) as u64;
    for (index, step) in WriteStep::ALL.into_iter().enumerate() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("flash");
        let store = FlashStore::open(&dir).unwrap();
        if let Some(old) = &old {
            store.write(ENTRY, old).unwrap();
        }

        let status = spawn_child("step", &dir)
            .env(STEP_ENV, index.to_string())
            .status()
            .unwrap();
        assert_eq!(
            status.signal(),
            Some(libc::SIGABRT),
            "child stopped at {step:?}: {status}"
        );

        // The directory is in the state we claim for this step...
        let temps = temp_files(&dir);
        let expected_temp_len = match step {
            WriteStep::TempCreated => Some(0),
            WriteStep::PartlyWritten => Some((HEADER_LEN + ENTRY.len() + NEW_LEN / 2) as u64),
            WriteStep::Written | WriteStep::Synced => Some(full_file),
            WriteStep::Renamed | WriteStep::DirSynced => None,
        };
        match expected_temp_len {
            Some(len) => {
                assert_eq!(temps.len(), 1, "{step:?}: {temps:?}");
                assert_eq!(temps[0].1, len, "{step:?}: {temps:?}");
                assert!(temps[0].0.starts_with(".config.tmp-"), "{temps:?}");
            }
            None => assert!(temps.is_empty(), "{step:?}: {temps:?}"),
        }

        // ...and after a restart it reads as exactly the old or exactly the new version.
        let store = FlashStore::open(&dir).unwrap();
        assert!(
            temp_files(&dir).is_empty(),
            "open left {:?}",
            temp_files(&dir)
        );
        let expected = if step < WriteStep::Renamed {
            old.clone()
        } else {
            Some(new.clone())
        };
        let found = store.read(ENTRY).unwrap();
        assert!(found == expected, "{step:?}: wrong version after the crash");
        let expected_names: Vec<&str> = expected.iter().map(|_| ENTRY).collect();
        assert_eq!(store.names().unwrap(), expected_names);

        // And the store works on.
        store.write(ENTRY, b"after").unwrap();
        assert_eq!(store.read(ENTRY).unwrap().as_deref(), Some(&b"after"[..]));
    }
}

/// What the parent learnt from one killed child.
struct Round {
    status: ExitStatus,
    start: u64,
    last_done: u64,
    stderr: String,
}

fn kill_after(mut child: Child, delay: Duration) -> Round {
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    // The delay counts from the child's first write, not from its (slower) start-up.
    let start = line
        .strip_prefix("start ")
        .map(|v| v.trim().parse().unwrap());
    if start.is_some() {
        std::thread::sleep(delay);
    }
    let _ = child.kill(); // SIGKILL
    let status = child.wait().unwrap();
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let Some(start) = start else {
        panic!("child did not start: {line:?} {status} {stderr}");
    };
    let last_done = rest
        .lines()
        .filter_map(|l| l.strip_prefix("done "))
        .map(|v| v.parse().unwrap())
        .max()
        .unwrap_or(start);
    Round {
        status,
        start,
        last_done,
        stderr,
    }
}

fn sigkill_at_random_moments() {
    let rounds: u32 = env::var("DESKPHONE_FLASH_CRASH_ROUNDS")
        .map(|r| r.parse().unwrap())
        .unwrap_or(150);
    let seed: u64 = env::var("DESKPHONE_FLASH_CRASH_SEED")
        .map(|s| s.parse().unwrap())
        .unwrap_or_else(|_| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    println!("sigkill_at_random_moments: DESKPHONE_FLASH_CRASH_SEED={seed}, {rounds} rounds");
    let mut rng = Rng(seed | 1);

    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("flash");
    FlashStore::open(&dir).unwrap();
    let mut current = 0u64; // the version in the store, 0 for none
    let mut killed_mid_write = 0;
    for round in 0..rounds {
        // Up to 30 ms: from before the first write to several writes in.
        let delay = Duration::from_micros(rng.next() % 30_000);
        let child = spawn_child("loop", &dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let r = kill_after(child, delay);
        let context = format!("round {round} (seed {seed}, delay {delay:?})");
        assert_eq!(
            r.status.signal(),
            Some(libc::SIGKILL),
            "{context}: child ended by itself, {}: {}",
            r.status,
            r.stderr
        );
        assert_eq!(r.start, current, "{context}: child saw another version");

        if !temp_files(&dir).is_empty() {
            killed_mid_write += 1;
        }
        let store = FlashStore::open(&dir).unwrap();
        assert!(
            temp_files(&dir).is_empty(),
            "{context}: open left temp files"
        );
        let found = match store.read(ENTRY) {
            Ok(Some(data)) => parse_version(&data)
                .unwrap_or_else(|e| panic!("{context}: entry holds no written version: {e}")),
            Ok(None) => 0,
            Err(e) => panic!("{context}: {e}"),
        };
        // Every write the child finished is there; at most the one it was in the middle
        // of (renamed, not yet reported) is there too.
        assert!(
            found == r.last_done || found == r.last_done + 1,
            "{context}: found version {found}, child had finished {}",
            r.last_done
        );
        current = found;
    }
    println!(
        "sigkill_at_random_moments: {current} versions written, \
         {killed_mid_write} of {rounds} kills left a temporary file"
    );
    // Otherwise the kills all missed the writes and the test showed nothing. (About 1.5
    // writes per round on a 2-core VM with a virtio disk; the bound leaves room for slower.)
    assert!(
        current >= u64::from(rounds) / 10,
        "too few writes: {current}"
    );
    assert!(
        killed_mid_write > 0,
        "no kill landed in the middle of a write"
    );
}
