//! The link to mediad: sipd's orders for the calls' media, kept and sent again when mediad
//! (re)starts, so a restarted mediad picks up the calls that are up.

use std::collections::BTreeMap;
use std::time::Duration;

use deskphone_ipc::client::{Client, ClientError, Mediad};
use deskphone_ipc::mediad::{Reply, Request, SessionOrder};
use deskphone_ipc::RuntimeDir;
use tokio::sync::mpsc;

use crate::shell::MediaOrder;

/// How often an absent mediad is looked for.
const RECONNECT: Duration = Duration::from_millis(500);

/// What mediad should be doing now: every session and the conference.
#[derive(Debug, Default)]
struct Wanted {
    sessions: BTreeMap<u32, SessionOrder>,
    conference: Vec<u32>,
}

impl Wanted {
    fn apply(&mut self, order: &MediaOrder) {
        match order {
            MediaOrder::Session(s) => {
                self.sessions.insert(s.call, s.clone());
            }
            MediaOrder::Stop { call } => {
                self.sessions.remove(call);
                self.conference.retain(|c| c != call);
                // One call left is no conference (cnf_join_enable joins the others by SIP).
                if self.conference.len() < 2 {
                    self.conference.clear();
                }
            }
            MediaOrder::Conference { calls } => self.conference = calls.clone(),
        }
    }

    /// The requests that bring a fresh mediad to this state.
    fn replay(&self) -> Vec<Request> {
        let mut r: Vec<Request> = self
            .sessions
            .values()
            .cloned()
            .map(Request::Session)
            .collect();
        if !self.conference.is_empty() {
            r.push(Request::Conference {
                calls: self.conference.clone(),
            });
        }
        r
    }
}

fn request(order: MediaOrder) -> Request {
    match order {
        MediaOrder::Session(s) => Request::Session(s),
        MediaOrder::Stop { call } => Request::Stop { call },
        MediaOrder::Conference { calls } => Request::Conference { calls },
    }
}

/// Runs for the life of sipd: sends each order in order; without mediad, orders are only
/// remembered (calls still work as signalling) and replayed once it answers.
///
/// On each connection it also reads which codecs mediad has and says whether G.729 is one.
pub async fn media_link(
    runtime: RuntimeDir,
    mut orders: mpsc::UnboundedReceiver<MediaOrder>,
    g729: tokio::sync::watch::Sender<bool>,
) {
    let mut wanted = Wanted::default();
    let mut client: Option<Client<Mediad>> = None;
    let mut warned = false;
    loop {
        let order = if client.is_none() {
            // Look for mediad now and then, taking orders meanwhile.
            match tokio::time::timeout(RECONNECT, orders.recv()).await {
                Ok(Some(o)) => Some(o),
                Ok(None) => return,
                Err(_) => None,
            }
        } else {
            match orders.recv().await {
                Some(o) => Some(o),
                None => return,
            }
        };
        if let Some(o) = &order {
            wanted.apply(o);
        }
        if client.is_none() {
            match Client::<Mediad>::connect(&runtime, "sipd").await {
                Ok(mut c) => {
                    if let Ok(Reply::Status(s)) = c.request(&Request::Status).await {
                        g729.send_replace(s.codecs.iter().any(|c| c == "G729"));
                    }
                    let mut ok = true;
                    for r in wanted.replay() {
                        if send(&mut c, &r).await.is_err() {
                            ok = false;
                            break;
                        }
                    }
                    if ok {
                        log::info!("mediad: connected ({} sessions)", wanted.sessions.len());
                        warned = false;
                        client = Some(c);
                    }
                    // The replay carried this order already.
                    continue;
                }
                Err(e) => {
                    if !warned && order.is_some() {
                        log::warn!("mediad: {e}; calls have no audio until it answers");
                        warned = true;
                    }
                    continue;
                }
            }
        }
        if let (Some(c), Some(o)) = (client.as_mut(), order) {
            if let Err(e) = send(c, &request(o)).await {
                log::warn!("mediad: {e}; reconnecting");
                client = None;
            }
        }
    }
}

/// Sends one request; mediad refusing an order (a port in use, ...) is logged, not fatal.
async fn send(c: &mut Client<Mediad>, r: &Request) -> Result<(), ClientError> {
    match c.request(r).await? {
        Reply::Error { message } => log::warn!("mediad refused {}: {message}", describe(r)),
        _ => log::debug!("mediad: {}", describe(r)),
    }
    Ok(())
}

fn describe(r: &Request) -> String {
    match r {
        Request::Session(s) => format!(
            "call {} media {} pt {} port {} {} to {}",
            s.call,
            s.codec,
            s.payload_type,
            s.local_port,
            match (s.send, s.receive) {
                (true, true) => "sendrecv",
                (true, false) => "sendonly",
                (false, true) => "recvonly",
                (false, false) => "inactive",
            },
            s.remote_rtp
                .map(|a| a.to_string())
                .unwrap_or_else(|| "nowhere (held)".into())
        ),
        Request::Stop { call } => format!("call {call} media stopped"),
        Request::Conference { calls } => format!("conference {calls:?}"),
        other => format!("{other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(call: u32) -> SessionOrder {
        SessionOrder {
            call,
            local_port: 16384 + 2 * call as u16,
            remote_rtp: Some("127.0.0.1:4000".parse().unwrap()),
            codec: "PCMU".into(),
            payload_type: 0,
            telephone_event: Some(101),
            send: true,
            receive: true,
            ptime_ms: 20,
            inband_dtmf: false,
            dtmf_level: 3,
            tos: 5,
            vad: false,
            early: false,
            comfort_noise: None,
            g729_annexb: false,
            behind_nat: false,
        }
    }

    #[test]
    fn a_fresh_mediad_gets_the_calls_that_are_up_and_not_the_ended_ones() {
        let mut w = Wanted::default();
        w.apply(&MediaOrder::Session(order(1)));
        w.apply(&MediaOrder::Session(order(2)));
        w.apply(&MediaOrder::Session(order(3)));
        w.apply(&MediaOrder::Conference { calls: vec![1, 2] });
        w.apply(&MediaOrder::Stop { call: 3 });
        let mut changed = order(1);
        changed.send = false;
        w.apply(&MediaOrder::Session(changed.clone()));
        assert_eq!(
            w.replay(),
            vec![
                Request::Session(changed),
                Request::Session(order(2)),
                Request::Conference { calls: vec![1, 2] }
            ]
        );
        w.apply(&MediaOrder::Stop { call: 2 });
        assert_eq!(w.replay().len(), 1, "the conference ended with call 2");
    }
}
