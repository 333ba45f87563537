//! A client of one service's socket (phonectl, the UI, the simulator, tests).

use std::collections::VecDeque;
use std::marker::PhantomData;

use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::UnixStream;

use crate::{
    read_frame, write_frame, FrameError, Hello, RuntimeDir, ServerFrame, Service, PROTOCOL_VERSION,
};

/// The message types of one service.
pub trait Protocol {
    const SERVICE: Service;
    type Request: Serialize;
    type Reply: DeserializeOwned;
    type Event: DeserializeOwned;
    fn hello(hello: Hello) -> Self::Request;
    /// The error text of a reply, if it is an error (a refused hello among others).
    fn error_of(reply: &Self::Reply) -> Option<&str>;
}

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot reach {service} at {path}: {source}")]
    Connect {
        service: &'static str,
        path: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Frame(#[from] FrameError),
    #[error("{0} closed the connection")]
    Closed(&'static str),
    #[error("{0}")]
    Refused(String),
}

pub struct Client<P: Protocol> {
    rd: OwnedReadHalf,
    wr: OwnedWriteHalf,
    events: VecDeque<P::Event>,
    _p: PhantomData<P>,
}

impl<P: Protocol> Client<P> {
    /// Connects and says hello; a service of another protocol version refuses.
    pub async fn connect(runtime: &RuntimeDir, client: &str) -> Result<Self, ClientError> {
        let path = runtime.socket(P::SERVICE);
        let stream = UnixStream::connect(&path)
            .await
            .map_err(|source| ClientError::Connect {
                service: P::SERVICE.name(),
                path: path.display().to_string(),
                source,
            })?;
        let (rd, wr) = stream.into_split();
        let mut c = Client {
            rd,
            wr,
            events: VecDeque::new(),
            _p: PhantomData,
        };
        let reply = c
            .request(&P::hello(Hello {
                version: PROTOCOL_VERSION,
                client: client.to_string(),
            }))
            .await?;
        if let Some(e) = P::error_of(&reply) {
            return Err(ClientError::Refused(e.to_string()));
        }
        Ok(c)
    }

    /// Sends a request and waits for its reply; events that arrive meanwhile are kept for
    /// [`next_event`](Self::next_event).
    pub async fn request(&mut self, req: &P::Request) -> Result<P::Reply, ClientError> {
        write_frame(&mut self.wr, req).await?;
        loop {
            match read_frame::<_, ServerFrame<P::Reply, P::Event>>(&mut self.rd).await? {
                Some(ServerFrame::Reply(r)) => return Ok(r),
                Some(ServerFrame::Event(e)) => self.events.push_back(e),
                None => return Err(ClientError::Closed(P::SERVICE.name())),
            }
        }
    }

    /// The next event (after subscribing); `None` when the service closed the connection.
    pub async fn next_event(&mut self) -> Result<Option<P::Event>, ClientError> {
        if let Some(e) = self.events.pop_front() {
            return Ok(Some(e));
        }
        loop {
            match read_frame::<_, ServerFrame<P::Reply, P::Event>>(&mut self.rd).await? {
                Some(ServerFrame::Event(e)) => return Ok(Some(e)),
                Some(ServerFrame::Reply(_)) => continue,
                None => return Ok(None),
            }
        }
    }
}

/// provd's protocol.
pub struct Provd;

impl Protocol for Provd {
    const SERVICE: Service = Service::Provd;
    type Request = crate::provd::Request;
    type Reply = crate::provd::Reply;
    type Event = crate::provd::Event;
    fn hello(hello: Hello) -> Self::Request {
        crate::provd::Request::Hello(hello)
    }
    fn error_of(reply: &Self::Reply) -> Option<&str> {
        match reply {
            crate::provd::Reply::Error { message } => Some(message),
            _ => None,
        }
    }
}

/// sipd's protocol.
pub struct Sipd;

impl Protocol for Sipd {
    const SERVICE: Service = Service::Sipd;
    type Request = crate::sipd::Request;
    type Reply = crate::sipd::Reply;
    type Event = crate::sipd::Event;
    fn hello(hello: Hello) -> Self::Request {
        crate::sipd::Request::Hello(hello)
    }
    fn error_of(reply: &Self::Reply) -> Option<&str> {
        match reply {
            crate::sipd::Reply::Error { message } => Some(message),
            _ => None,
        }
    }
}

/// The media daemon's protocol.
pub struct Mediad;

impl Protocol for Mediad {
    const SERVICE: Service = Service::Mediad;
    type Request = crate::mediad::Request;
    type Reply = crate::mediad::Reply;
    type Event = crate::mediad::Event;
    fn hello(hello: Hello) -> Self::Request {
        crate::mediad::Request::Hello(hello)
    }
    fn error_of(reply: &Self::Reply) -> Option<&str> {
        match reply {
            crate::mediad::Reply::Error { message } => Some(message),
            _ => None,
        }
    }
}

/// The UI's protocol.
pub struct Ui;

impl Protocol for Ui {
    const SERVICE: Service = Service::Ui;
    type Request = crate::ui::Request;
    type Reply = crate::ui::Reply;
    type Event = crate::ui::Event;
    fn hello(hello: Hello) -> Self::Request {
        crate::ui::Request::Hello(hello)
    }
    fn error_of(reply: &Self::Reply) -> Option<&str> {
        match reply {
            crate::ui::Reply::Error { message } => Some(message),
            _ => None,
        }
    }
}
