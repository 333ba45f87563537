//! The phone as the one asking for digest credentials (RFC 2617 / RFC 3261 section 22.4):
//! used to authenticate a check-sync NOTIFY with a line's credentials when the
//! administrator asks for it. ezk-sip-auth only answers challenges, so the few lines of the
//! server side are here: MD5 with qop=auth (what PBXs send), nonces that expire and count.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// How long a nonce may be used.
pub const NONCE_LIFETIME: Duration = Duration::from_secs(300);
/// Nonces remembered at once (older ones are forgotten first).
const MAX_NONCES: usize = 16;

/// Why credentials were not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// No Authorization, or for another realm: challenge.
    Missing,
    /// A nonce we did not issue, or too old: challenge again (stale).
    Stale,
    /// Wrong user or password, or a replayed nonce count.
    Wrong(String),
}

#[derive(Debug)]
struct Nonce {
    value: String,
    issued: Instant,
    /// The highest nonce count seen (qop=auth), or whether it was used (no qop).
    last_nc: u32,
}

/// Issues challenges and checks the answers.
#[derive(Debug)]
pub struct Challenger {
    realm: String,
    nonces: VecDeque<Nonce>,
    rng: fastrand::Rng,
}

/// `name="value"` and `name=value` pairs of a Digest header, names lower-cased.
fn params(value: &str) -> Option<Vec<(String, String)>> {
    let rest = value.trim();
    let rest = rest
        .get(..6)
        .filter(|s| s.eq_ignore_ascii_case("digest"))
        .map(|_| &rest[6..])?;
    let mut out = Vec::new();
    let mut s = rest.trim_start();
    while !s.is_empty() {
        let eq = s.find('=')?;
        let name = s[..eq]
            .trim()
            .trim_start_matches(',')
            .trim()
            .to_ascii_lowercase();
        s = s[eq + 1..].trim_start();
        let (val, rest) = if let Some(q) = s.strip_prefix('"') {
            let end = q.find('"')?;
            (q[..end].to_string(), &q[end + 1..])
        } else {
            let end = s.find(',').unwrap_or(s.len());
            (s[..end].trim().to_string(), &s[end..])
        };
        out.push((name, val));
        s = rest.trim_start().trim_start_matches(',').trim_start();
    }
    Some(out)
}

fn md5_hex(s: &str) -> String {
    format!("{:x}", md5::compute(s.as_bytes()))
}

impl Challenger {
    pub fn new(realm: impl Into<String>, seed: u64) -> Challenger {
        Challenger {
            realm: realm.into(),
            nonces: VecDeque::new(),
            rng: fastrand::Rng::with_seed(seed),
        }
    }

    /// A WWW-Authenticate value with a fresh nonce; `stale` when the last answer used an
    /// expired one (the client may retry without asking its user).
    pub fn challenge(&mut self, now: Instant, stale: bool) -> String {
        self.forget(now);
        let value: String = (0..24).map(|_| self.rng.alphanumeric()).collect();
        if self.nonces.len() >= MAX_NONCES {
            self.nonces.pop_front();
        }
        self.nonces.push_back(Nonce {
            value: value.clone(),
            issued: now,
            last_nc: 0,
        });
        format!(
            "Digest realm=\"{}\", nonce=\"{value}\", algorithm=MD5, qop=\"auth\"{}",
            self.realm,
            if stale { ", stale=true" } else { "" }
        )
    }

    fn forget(&mut self, now: Instant) {
        self.nonces
            .retain(|n| now.saturating_duration_since(n.issued) < NONCE_LIFETIME);
    }

    /// Checks an Authorization value for `method` against `users` (name, password); the
    /// user that matched.
    pub fn verify(
        &mut self,
        now: Instant,
        method: &str,
        authorization: Option<&str>,
        users: &[(String, String)],
    ) -> Result<String, Refusal> {
        self.forget(now);
        let p = authorization.and_then(params).ok_or(Refusal::Missing)?;
        let get = |k: &str| p.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        if get("realm") != Some(self.realm.as_str()) {
            return Err(Refusal::Missing);
        }
        if get("algorithm").is_some_and(|a| !a.eq_ignore_ascii_case("md5")) {
            return Err(Refusal::Wrong("only MD5 is offered".into()));
        }
        let (Some(user), Some(nonce), Some(uri), Some(response)) =
            (get("username"), get("nonce"), get("uri"), get("response"))
        else {
            return Err(Refusal::Wrong("incomplete credentials".into()));
        };
        let Some(n) = self.nonces.iter_mut().find(|n| n.value == nonce) else {
            return Err(Refusal::Stale);
        };
        let password = users
            .iter()
            .find(|(u, _)| u == user)
            .map(|(_, p)| p.as_str())
            .ok_or_else(|| Refusal::Wrong(format!("no line authenticates as {user}")))?;
        let ha1 = md5_hex(&format!("{user}:{}:{password}", self.realm));
        let ha2 = md5_hex(&format!("{method}:{uri}"));
        let (expected, nc) = match get("qop") {
            Some(q) if q.eq_ignore_ascii_case("auth") => {
                let (Some(nc), Some(cnonce)) = (get("nc"), get("cnonce")) else {
                    return Err(Refusal::Wrong("qop=auth without nc or cnonce".into()));
                };
                let count = u32::from_str_radix(nc, 16)
                    .map_err(|_| Refusal::Wrong("bad nonce count".into()))?;
                (
                    md5_hex(&format!("{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}")),
                    count,
                )
            }
            Some(_) => return Err(Refusal::Wrong("only qop=auth is offered".into())),
            None => (md5_hex(&format!("{ha1}:{nonce}:{ha2}")), 1),
        };
        if !expected.eq_ignore_ascii_case(response) {
            return Err(Refusal::Wrong(format!("wrong password for {user}")));
        }
        if nc <= n.last_nc {
            return Err(Refusal::Wrong("replayed credentials".into()));
        }
        n.last_nc = nc;
        Ok(user.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nonce_of(challenge: &str) -> String {
        params(challenge)
            .unwrap()
            .into_iter()
            .find(|(k, _)| k == "nonce")
            .unwrap()
            .1
    }

    fn answer(user: &str, pw: &str, realm: &str, nonce: &str, nc: &str) -> String {
        let ha1 = md5_hex(&format!("{user}:{realm}:{pw}"));
        let ha2 = md5_hex("NOTIFY:sip:1001@192.0.2.20");
        let r = md5_hex(&format!("{ha1}:{nonce}:{nc}:c0ffee:auth:{ha2}"));
        format!(
            "Digest username=\"{user}\", realm=\"{realm}\", nonce=\"{nonce}\", \
             uri=\"sip:1001@192.0.2.20\", response=\"{r}\", algorithm=MD5, cnonce=\"c0ffee\", \
             qop=auth, nc={nc}"
        )
    }

    #[test]
    fn right_credentials_pass_once_per_count_and_wrong_ones_do_not() {
        let t0 = Instant::now();
        let mut c = Challenger::new("192.0.2.1", 1);
        let users = vec![("1001".to_string(), "secret".to_string())];
        assert_eq!(c.verify(t0, "NOTIFY", None, &users), Err(Refusal::Missing));
        let nonce = nonce_of(&c.challenge(t0, false));
        let good = answer("1001", "secret", "192.0.2.1", &nonce, "00000001");
        assert_eq!(
            c.verify(t0, "NOTIFY", Some(&good), &users),
            Ok("1001".into())
        );
        // The same count again is a replay; the next count is fine.
        assert!(matches!(
            c.verify(t0, "NOTIFY", Some(&good), &users),
            Err(Refusal::Wrong(_))
        ));
        let next = answer("1001", "secret", "192.0.2.1", &nonce, "00000002");
        assert!(c.verify(t0, "NOTIFY", Some(&next), &users).is_ok());
        let wrong = answer("1001", "guess", "192.0.2.1", &nonce, "00000003");
        assert_eq!(
            c.verify(t0, "NOTIFY", Some(&wrong), &users),
            Err(Refusal::Wrong("wrong password for 1001".into()))
        );
        let other_realm = answer("1001", "secret", "evil", &nonce, "00000004");
        assert_eq!(
            c.verify(t0, "NOTIFY", Some(&other_realm), &users),
            Err(Refusal::Missing)
        );
        // A nonce we never gave, or one past its lifetime: stale.
        let forged = answer("1001", "secret", "192.0.2.1", "made-up", "00000001");
        assert_eq!(
            c.verify(t0, "NOTIFY", Some(&forged), &users),
            Err(Refusal::Stale)
        );
        let late = t0 + NONCE_LIFETIME;
        let again = answer("1001", "secret", "192.0.2.1", &nonce, "00000009");
        assert_eq!(
            c.verify(late, "NOTIFY", Some(&again), &users),
            Err(Refusal::Stale)
        );
        assert!(c.challenge(late, true).ends_with(", stale=true"));
        assert_eq!(
            c.verify(t0, "NOTIFY", Some("Basic abc"), &users),
            Err(Refusal::Missing)
        );
        assert!(params("Digest username=\"unterminated").is_none());
    }
}
