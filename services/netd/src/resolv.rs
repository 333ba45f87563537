//! resolv.conf from the plan. The image links /etc/resolv.conf to the copy in the runtime
//! directory, so the root filesystem stays read-only.

use std::io::Write as _;
use std::net::Ipv4Addr;
use std::path::Path;

/// glibc's resolver reads only this many `nameserver` lines (MAXNS): the guide's seven
/// (dyn_dns_addr_1/2 and DNS Server 1-5) are all written, the first three are asked.
pub const RESOLVER_MAX_SERVERS: usize = 3;

pub fn render(dns: &[Ipv4Addr], domain: Option<&str>) -> String {
    let mut out = String::from("# written by deskphone netd from the phone's network settings\n");
    if let Some(d) = domain.filter(|d| is_domain(d)) {
        out.push_str(&format!("search {d}\n"));
    }
    for (i, a) in dns.iter().enumerate() {
        if i == RESOLVER_MAX_SERVERS {
            out.push_str("# the resolver reads three servers; the rest are kept for reference\n");
        }
        let hash = if i >= RESOLVER_MAX_SERVERS { "#" } else { "" };
        out.push_str(&format!("{hash}nameserver {a}\n"));
    }
    // Fail over quickly: the guide's "tried in order" with a phone's patience.
    if dns.len() > 1 {
        out.push_str("options timeout:2 attempts:2\n");
    }
    out
}

/// A domain name that cannot break the file (no spaces, no newlines).
fn is_domain(d: &str) -> bool {
    !d.is_empty()
        && d.len() <= 253
        && d.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
}

/// Writes `text` to `path` so that readers see the old or the new file, never half of one.
pub fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    if std::fs::read_to_string(path).is_ok_and(|old| old == text) {
        return Ok(());
    }
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(text.as_bytes())?;
    tmp.as_file().sync_all()?;
    let mut perms = tmp.as_file().metadata()?.permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o644);
    tmp.as_file().set_permissions(perms)?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn servers_in_order_and_the_ones_glibc_ignores_marked() {
        let dns: Vec<Ipv4Addr> = (1..=5).map(|i| Ipv4Addr::new(10, 0, 0, i)).collect();
        let text = render(&dns, Some("example.org"));
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[1], "search example.org");
        assert_eq!(lines[2], "nameserver 10.0.0.1");
        assert_eq!(lines[4], "nameserver 10.0.0.3");
        assert!(text.contains("#nameserver 10.0.0.4\n#nameserver 10.0.0.5\n"));
        assert!(text.ends_with("options timeout:2 attempts:2\n"));
    }

    #[test]
    fn a_hostile_domain_is_left_out() {
        let text = render(&[Ipv4Addr::new(10, 0, 0, 1)], Some("x\nnameserver 6.6.6.6"));
        assert!(!text.contains("6.6.6.6"));
        assert!(!text.contains("search"));
    }

    #[test]
    fn written_whole() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("resolv.conf");
        write_atomically(&p, "a\n").unwrap();
        write_atomically(&p, "b\n").unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "b\n");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
