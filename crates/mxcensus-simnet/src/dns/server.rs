//! The sockets: one UDP socket and one TCP listener on the same address, both feeding
//! the [`Engine`].
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;

use super::engine::{Engine, Transport};

/// Limits of the server.
#[derive(Clone, Copy, Debug)]
pub struct ServerConfig {
    /// Most TCP connections served at once; more wait in the accept queue.
    pub max_tcp_connections: usize,
    /// A TCP connection idle this long is closed (RFC 7766 §6.2.3 suggests seconds).
    pub tcp_idle_timeout: Duration,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            max_tcp_connections: 512,
            tcp_idle_timeout: Duration::from_secs(10),
        }
    }
}

/// A running authoritative server; dropping it (or [`DnsServer::shutdown`]) stops it.
pub struct DnsServer {
    addr: SocketAddr,
    tasks: Vec<JoinHandle<()>>,
}

impl DnsServer {
    /// Binds UDP and TCP on `addr` (port 0: a free port, the same for both) and serves
    /// `engine` from the current tokio runtime.
    pub async fn start(
        addr: SocketAddr,
        engine: Arc<Engine>,
        config: ServerConfig,
    ) -> io::Result<Self> {
        let (udp, tcp) = bind_pair(addr).await?;
        let addr = udp.local_addr()?;
        let udp = Arc::new(udp);
        let mut tasks = Vec::new();
        // A few receive loops share the socket so signing work overlaps.
        for _ in 0..4 {
            tasks.push(tokio::spawn(udp_loop(udp.clone(), engine.clone())));
        }
        tasks.push(tokio::spawn(tcp_loop(tcp, engine, config)));
        Ok(Self { addr, tasks })
    }

    /// The address both sockets are bound to.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops serving (connections in progress are dropped).
    pub fn shutdown(&mut self) {
        for task in self.tasks.drain(..) {
            task.abort();
        }
    }
}

impl Drop for DnsServer {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Binds UDP then TCP on the same port (retrying a few free ports when `addr` has port 0
/// and the TCP side of the chosen port is taken).
async fn bind_pair(addr: SocketAddr) -> io::Result<(UdpSocket, TcpListener)> {
    let mut last_err = None;
    for _ in 0..16 {
        let udp = UdpSocket::bind(addr).await?;
        let bound = udp.local_addr()?;
        match TcpListener::bind(bound).await {
            Ok(tcp) => return Ok((udp, tcp)),
            Err(e) if addr.port() == 0 => last_err = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last_err.unwrap_or_else(|| io::Error::other("no free port pair")))
}

async fn udp_loop(socket: Arc<UdpSocket>, engine: Arc<Engine>) {
    let mut buf = vec![0u8; 65_535];
    loop {
        let Ok((len, peer)) = socket.recv_from(&mut buf).await else {
            // ICMP errors from earlier sends surface here on some systems: keep going,
            // without spinning if the error persists.
            tokio::task::yield_now().await;
            continue;
        };
        let Some(query) = buf.get(..len) else {
            continue;
        };
        if let Some(reply) = engine.answer(query, Transport::Udp) {
            // A lost reply is the client's time-out to handle, as on the Internet.
            let _ = socket.send_to(&reply, peer).await;
        }
    }
}

async fn tcp_loop(listener: TcpListener, engine: Arc<Engine>, config: ServerConfig) {
    let slots = Arc::new(Semaphore::new(config.max_tcp_connections.max(1)));
    loop {
        let Ok(permit) = slots.clone().acquire_owned().await else {
            return;
        };
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let engine = engine.clone();
        tokio::spawn(async move {
            let _ = serve_tcp(stream, engine, config.tcp_idle_timeout).await;
            drop(permit);
        });
    }
}

/// Serves length-prefixed queries (RFC 1035 §4.2.2) until the client closes, goes idle,
/// or sends garbage framing. Answers in order.
async fn serve_tcp(mut stream: TcpStream, engine: Arc<Engine>, idle: Duration) -> io::Result<()> {
    let mut buf = vec![0u8; 65_535];
    loop {
        let mut len = [0u8; 2];
        match tokio::time::timeout(idle, stream.read_exact(&mut len)).await {
            Ok(Ok(_)) => {}
            Ok(Err(_)) | Err(_) => return Ok(()),
        }
        let len = usize::from(u16::from_be_bytes(len));
        let Some(query) = buf.get_mut(..len) else {
            return Ok(());
        };
        match tokio::time::timeout(idle, stream.read_exact(query)).await {
            Ok(Ok(_)) => {}
            Ok(Err(_)) | Err(_) => return Ok(()),
        }
        // A planted time-out: close without answering. A dead server would not have
        // accepted the connection at all; holding it open silently would only make the
        // client wait for its own (long) TCP time-out.
        let Some(reply) = engine.answer(query, Transport::Tcp) else {
            return Ok(());
        };
        let Ok(reply_len) = u16::try_from(reply.len()) else {
            continue;
        };
        let mut framed = Vec::with_capacity(reply.len() + 2);
        framed.extend_from_slice(&reply_len.to_be_bytes());
        framed.extend_from_slice(&reply);
        stream.write_all(&framed).await?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dns::memory::StaticSource;
    use crate::dns::zone::{RrSet, Signing, Zone};
    use hickory_proto::op::{Message, Query};
    use hickory_proto::rr::rdata::SOA;
    use hickory_proto::rr::{Name, RData, RecordType};
    use std::str::FromStr;
    use std::time::Instant;

    fn engine() -> Arc<Engine> {
        let apex = Name::from_str("example.").unwrap();
        let mut src = StaticSource::new();
        src.add_zone(Zone::new(apex.clone(), Signing::Unsigned));
        let soa = SOA::new(apex.clone(), apex.clone(), 1, 1, 1, 1, 1);
        src.add(&apex, RrSet::single(60, RData::SOA(soa))).unwrap();
        Arc::new(Engine::new(Arc::new(src)))
    }

    fn framed_query(id: u16) -> Vec<u8> {
        let mut m = Message::query();
        m.metadata.id = id;
        m.add_query(Query::query(
            Name::from_str("example.").unwrap(),
            RecordType::SOA,
        ));
        let bytes = m.to_vec().unwrap();
        let mut out = (bytes.len() as u16).to_be_bytes().to_vec();
        out.extend_from_slice(&bytes);
        out
    }

    async fn read_reply(stream: &mut TcpStream) -> Message {
        let mut len = [0u8; 2];
        stream.read_exact(&mut len).await.unwrap();
        let mut buf = vec![0u8; usize::from(u16::from_be_bytes(len))];
        stream.read_exact(&mut buf).await.unwrap();
        Message::from_vec(&buf).unwrap()
    }

    #[tokio::test]
    async fn udp_and_tcp_on_one_port() {
        let server = DnsServer::start(
            "127.0.0.1:0".parse().unwrap(),
            engine(),
            ServerConfig::default(),
        )
        .await
        .unwrap();
        let addr = server.local_addr();
        let udp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let query = framed_query(7);
        udp.send_to(&query[2..], addr).await.unwrap();
        let mut buf = [0u8; 512];
        let (len, _) = udp.recv_from(&mut buf).await.unwrap();
        assert_eq!(Message::from_vec(&buf[..len]).unwrap().metadata.id, 7);
        let mut tcp = TcpStream::connect(addr).await.unwrap();
        tcp.write_all(&[framed_query(1), framed_query(2)].concat())
            .await
            .unwrap();
        assert_eq!(read_reply(&mut tcp).await.metadata.id, 1);
        assert_eq!(read_reply(&mut tcp).await.metadata.id, 2);
    }

    #[tokio::test]
    async fn tcp_connections_are_capped() {
        let idle = Duration::from_millis(300);
        let config = ServerConfig {
            max_tcp_connections: 1,
            tcp_idle_timeout: idle,
        };
        let server = DnsServer::start("127.0.0.1:0".parse().unwrap(), engine(), config)
            .await
            .unwrap();
        let addr = server.local_addr();
        // The first connection holds the only slot until it idles out.
        let _idle = TcpStream::connect(addr).await.unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        let started = Instant::now();
        let mut second = TcpStream::connect(addr).await.unwrap();
        second.write_all(&framed_query(3)).await.unwrap();
        assert_eq!(read_reply(&mut second).await.metadata.id, 3);
        assert!(
            started.elapsed() >= Duration::from_millis(200),
            "{:?}",
            started.elapsed()
        );
    }
}
