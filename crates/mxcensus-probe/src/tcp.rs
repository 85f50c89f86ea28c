//! TCP connection set-up shared by the SMTP probe and the policy fetch, with the failure
//! classified where it happens (refused, timed out, unreachable, reset), never guessed
//! later from an error string.

use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::net::TcpStream;

/// Why a TCP connection could not be set up.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectError {
    /// The peer answered the SYN with a RST (nothing listens on the port).
    #[error("connection refused")]
    Refused,
    /// No answer within the connect timeout (or the kernel's own SYN timeout).
    #[error("connect timed out")]
    Timeout,
    /// No route to the network or host (ICMP unreachable, no IPv6 route, ...).
    #[error("network or host unreachable")]
    Unreachable,
    /// The connection was reset or aborted while it was being set up.
    #[error("connection reset during connect")]
    Reset,
    /// The local side could not use the address (e.g. no IPv6 configured).
    #[error("local address not available")]
    AddrNotAvailable,
    /// Any other socket error, by kind.
    #[error("connect failed: {0:?}")]
    Other(io::ErrorKind),
}

impl ConnectError {
    /// Classifies the error `connect(2)` returned.
    pub fn from_io(error: &io::Error) -> Self {
        match error.kind() {
            io::ErrorKind::ConnectionRefused => ConnectError::Refused,
            io::ErrorKind::TimedOut => ConnectError::Timeout,
            io::ErrorKind::NetworkUnreachable | io::ErrorKind::HostUnreachable => {
                ConnectError::Unreachable
            }
            io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted => {
                ConnectError::Reset
            }
            io::ErrorKind::AddrNotAvailable => ConnectError::AddrNotAvailable,
            kind => ConnectError::Other(kind),
        }
    }
}

/// A connection attempt as evidence: where, how long, and how it ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectAttempt {
    /// The address dialled.
    pub addr: SocketAddr,
    /// Time until the connection was set up or failed.
    pub elapsed: Duration,
    /// `Ok` when connected (the elapsed time is then the TCP round trip), else why not.
    pub outcome: Result<(), ConnectError>,
}

/// Connects to `addr` within `limit`; returns the stream (if any) and the attempt record.
pub async fn connect(addr: SocketAddr, limit: Duration) -> (Option<TcpStream>, ConnectAttempt) {
    let started = Instant::now();
    let result = tokio::time::timeout(limit, TcpStream::connect(addr)).await;
    let elapsed = started.elapsed();
    let (stream, outcome) = match result {
        Err(_) => (None, Err(ConnectError::Timeout)),
        Ok(Err(e)) => (None, Err(ConnectError::from_io(&e))),
        Ok(Ok(stream)) => {
            // Small request/response exchanges: do not wait to coalesce writes.
            let _ = stream.set_nodelay(true);
            (Some(stream), Ok(()))
        }
    };
    (
        stream,
        ConnectAttempt {
            addr,
            elapsed,
            outcome,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_errors_map_to_classes() {
        let of = |kind| ConnectError::from_io(&io::Error::from(kind));
        assert_eq!(of(io::ErrorKind::ConnectionRefused), ConnectError::Refused);
        assert_eq!(of(io::ErrorKind::TimedOut), ConnectError::Timeout);
        assert_eq!(
            of(io::ErrorKind::NetworkUnreachable),
            ConnectError::Unreachable
        );
        assert_eq!(
            of(io::ErrorKind::HostUnreachable),
            ConnectError::Unreachable
        );
        assert_eq!(of(io::ErrorKind::ConnectionReset), ConnectError::Reset);
        assert_eq!(
            of(io::ErrorKind::AddrNotAvailable),
            ConnectError::AddrNotAvailable
        );
        assert_eq!(
            of(io::ErrorKind::PermissionDenied),
            ConnectError::Other(io::ErrorKind::PermissionDenied)
        );
    }

    #[tokio::test]
    async fn refused_on_a_closed_port() {
        // Bind, learn the port, close: nothing listens there any more.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let (stream, attempt) = connect(addr, Duration::from_secs(5)).await;
        assert!(stream.is_none());
        assert_eq!(attempt.outcome, Err(ConnectError::Refused));
        assert_eq!(attempt.addr, addr);
    }

    #[tokio::test]
    async fn connects_to_a_listener() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stream, attempt) = connect(addr, Duration::from_secs(5)).await;
        assert!(stream.is_some());
        assert_eq!(attempt.outcome, Ok(()));
    }
}
