//! The service side of a socket, for any protocol: accept connections, check the hello,
//! hand each request to the service's own loop and write its reply, and write the events of
//! a client that subscribed.
//!
//! The service's loop receives [`Incoming`] requests on one channel, so it owns its state
//! without locks; a subscription is simply keeping `events` (a bounded channel: a stalled
//! client loses events instead of growing the service's memory).

use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{mpsc, oneshot};

use crate::{read_frame, write_frame, FrameError, Hello, ServerFrame, PROTOCOL_VERSION};

/// Events queued for one subscriber before it counts as stalled.
pub const SUBSCRIBER_BACKLOG: usize = 256;

/// What a server needs to know about its protocol.
pub trait ServerProtocol: Send + 'static {
    const NAME: &'static str;
    type Request: DeserializeOwned + Send + 'static;
    type Reply: Serialize + Send + Sync + 'static;
    type Event: Serialize + Send + Sync + 'static;
    fn as_hello(request: &Self::Request) -> Option<&Hello>;
    fn hello_reply() -> Self::Reply;
    fn error(message: String) -> Self::Reply;
}

/// One request for the service's loop.
pub struct Incoming<P: ServerProtocol> {
    pub request: P::Request,
    /// Where this client's events go, should it subscribe.
    pub events: mpsc::Sender<P::Event>,
    pub reply: oneshot::Sender<P::Reply>,
}

/// Accepts connections until the listener fails for good; each is served in its own task.
pub async fn accept_loop<P: ServerProtocol>(
    listener: UnixListener,
    loop_tx: mpsc::Sender<Incoming<P>>,
) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                tokio::spawn(serve::<P>(stream, loop_tx.clone()));
            }
            Err(e) => {
                log::warn!("accept: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// One client connection: hello, then requests and (if subscribed) events.
async fn serve<P: ServerProtocol>(stream: UnixStream, loop_tx: mpsc::Sender<Incoming<P>>) {
    let (mut rd, mut wr) = stream.into_split();
    // Reading in its own task keeps partially read frames safe while events are written.
    let (req_tx, mut req_rx) = mpsc::channel::<Result<P::Request, String>>(8);
    tokio::spawn(async move {
        loop {
            let next = match read_frame::<_, P::Request>(&mut rd).await {
                Ok(Some(r)) => Ok(r),
                Ok(None) => return,
                Err(FrameError::Json(e)) => Err(format!("malformed request: {e}")),
                Err(e) => {
                    let _ = req_tx.send(Err(e.to_string())).await;
                    return;
                }
            };
            if req_tx.send(next).await.is_err() {
                return;
            }
        }
    });

    let first = match req_rx.recv().await {
        Some(Ok(r)) => r,
        Some(Err(message)) => {
            let _ = write_frame(&mut wr, &reply::<P>(P::error(message))).await;
            return;
        }
        None => return,
    };
    match P::as_hello(&first) {
        Some(h) if h.version == PROTOCOL_VERSION => {
            if write_frame(&mut wr, &reply::<P>(P::hello_reply()))
                .await
                .is_err()
            {
                return;
            }
            log::debug!("client {} connected", h.client);
        }
        Some(h) => {
            let message = format!(
                "protocol version {} is not spoken here ({} speaks {PROTOCOL_VERSION})",
                h.version,
                P::NAME
            );
            log::warn!("{} refused: {message}", h.client);
            let _ = write_frame(&mut wr, &reply::<P>(P::error(message))).await;
            return;
        }
        None => {
            let message = "the first request must be hello".to_string();
            let _ = write_frame(&mut wr, &reply::<P>(P::error(message))).await;
            return;
        }
    }

    let (ev_tx, mut ev_rx) = mpsc::channel(SUBSCRIBER_BACKLOG);
    loop {
        let frame = tokio::select! {
            req = req_rx.recv() => match req {
                None => break,
                Some(Err(message)) => reply::<P>(P::error(message)),
                Some(Ok(request)) => {
                    let (tx, rx) = oneshot::channel();
                    let incoming = Incoming { request, events: ev_tx.clone(), reply: tx };
                    if loop_tx.send(incoming).await.is_err() {
                        break;
                    }
                    match rx.await {
                        Ok(r) => reply::<P>(r),
                        Err(_) => reply::<P>(P::error(format!("{} is stopping", P::NAME))),
                    }
                }
            },
            Some(ev) = ev_rx.recv() => ServerFrame::Event(ev),
        };
        if write_frame(&mut wr, &frame).await.is_err() {
            break;
        }
    }
}

fn reply<P: ServerProtocol>(r: P::Reply) -> ServerFrame<P::Reply, P::Event> {
    ServerFrame::Reply(r)
}
