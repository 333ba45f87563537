//! The tokio shell around [`Transfer`]: one UDP socket, one timer.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Instant;

use tokio::net::UdpSocket;

use crate::{ClientConfig, Peer, TftpError, Transfer};

/// Larger than any DATA (4 + 65464 bytes), so an oversized datagram is seen
/// as such by the core instead of being silently truncated to a valid size.
const RECV_BUFFER: usize = 65536;

/// Fetches `filename` from the TFTP server at `server` (normally port 69).
///
/// Binds an ephemeral UDP socket of the server's address family and drives a
/// [`Transfer`] with it. Datagrams are not filtered here: the core decides
/// which source is the server's transfer ID.
pub async fn fetch(
    server: SocketAddr,
    filename: &str,
    config: &ClientConfig,
) -> Result<Vec<u8>, TftpError> {
    drive(server, filename, config, |_| Ok(())).await
}

/// Fetches `filename` into `dest` as it arrives (for files too large to hold in memory, such
/// as firmware bundles). `progress` is told the bytes received and the announced size.
/// On error `dest` holds a partial file; the caller removes it.
pub async fn fetch_to_file(
    server: SocketAddr,
    filename: &str,
    config: &ClientConfig,
    dest: &std::path::Path,
    mut progress: impl FnMut(u64, Option<u64>),
) -> Result<u64, TftpError> {
    use std::io::Write as _;
    let mut file = std::io::BufWriter::new(std::fs::File::create(dest)?);
    let rest = drive(server, filename, config, |t: &mut Transfer| {
        let chunk = t.take_data();
        if !chunk.is_empty() {
            file.write_all(&chunk)?;
            progress(t.received(), t.tsize());
        }
        Ok(())
    })
    .await?;
    file.write_all(&rest)?;
    let mut file = file.into_inner().map_err(|e| e.into_error())?;
    file.flush()?;
    file.sync_all()?;
    Ok(file.metadata()?.len())
}

/// The run loop; `after_datagram` sees the transfer after each received datagram.
async fn drive(
    server: SocketAddr,
    filename: &str,
    config: &ClientConfig,
    mut after_datagram: impl FnMut(&mut Transfer) -> Result<(), std::io::Error>,
) -> Result<Vec<u8>, TftpError> {
    let local: SocketAddr = match server {
        SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    let socket = UdpSocket::bind(local).await?;
    let mut transfer = Transfer::new(filename, config, Instant::now());
    let mut buf = vec![0u8; RECV_BUFFER];
    loop {
        while let Some(t) = transfer.poll_transmit() {
            let to = match t.to {
                Peer::Server => server,
                Peer::Addr(addr) => addr,
            };
            socket.send_to(&t.payload, to).await?;
        }
        if let Some(outcome) = transfer.poll_outcome() {
            return outcome;
        }
        // A running transfer always has a deadline; the fallback only avoids a
        // panic path.
        let deadline = transfer
            .poll_timeout()
            .unwrap_or_else(|| Instant::now() + config.timeout);
        tokio::select! {
            received = socket.recv_from(&mut buf) => {
                let (n, from) = received?;
                transfer.handle_datagram(Instant::now(), from, &buf[..n]);
                after_datagram(&mut transfer)?;
            }
            () = tokio::time::sleep_until(deadline.into()) => {
                transfer.handle_timeout(Instant::now());
            }
        }
    }
}
