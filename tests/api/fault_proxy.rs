//! A TCP proxy the fault tests put between rtchat and a real service
//! (PostgreSQL, MariaDB, Redis): `cut` closes every open connection and refuses
//! new ones, as a network partition or a service restart would; `restore` lets
//! traffic through again.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

pub struct FaultProxy {
    pub address: SocketAddr,
    up: Arc<AtomicBool>,
    /// Bumped on every cut: connections opened before it end.
    cuts: watch::Sender<u64>,
    accept: tokio::task::JoinHandle<()>,
}

impl FaultProxy {
    pub async fn start(target: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("proxy listens");
        let address = listener.local_addr().expect("proxy address");
        let up = Arc::new(AtomicBool::new(true));
        let (cuts, _) = watch::channel(0u64);
        let accept = tokio::spawn({
            let up = up.clone();
            let cuts = cuts.clone();
            async move {
                while let Ok((client, _)) = listener.accept().await {
                    if !up.load(Ordering::SeqCst) {
                        drop(client);
                        continue;
                    }
                    let mut cut = cuts.subscribe();
                    tokio::spawn(async move {
                        let Ok(mut server) = TcpStream::connect(target).await else { return };
                        let mut client = client;
                        tokio::select! {
                            _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                            _ = cut.changed() => {}
                        }
                    });
                }
            }
        });
        Self { address, up, cuts, accept }
    }

    /// Every connection through the proxy ends; new ones are closed at once.
    pub fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        self.cuts.send_modify(|n| *n += 1);
    }

    pub fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }

    /// `url` with its host and port replaced by the proxy's.
    pub fn route(&self, url: &str) -> String {
        let (scheme, rest) = url.split_once("://").expect("a URL with a scheme");
        let (credentials, after_at) = match rest.rsplit_once('@') {
            Some((credentials, host)) => (format!("{credentials}@"), host),
            None => (String::new(), rest),
        };
        let path = after_at.find('/').map(|i| &after_at[i..]).unwrap_or("");
        format!("{scheme}://{credentials}{}{path}", self.address)
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.cut();
        self.accept.abort();
    }
}

/// The `host:port` a service URL points at (names resolved, default ports filled).
pub fn target_of(url: &str, default_port: u16) -> SocketAddr {
    let rest = url.split_once("://").map(|(_, rest)| rest).unwrap_or(url);
    let host_port = rest.rsplit_once('@').map(|(_, host)| host).unwrap_or(rest);
    let host_port = host_port.split('/').next().unwrap_or(host_port);
    let with_port = if host_port.contains(':') { host_port.to_string() } else { format!("{host_port}:{default_port}") };
    std::net::ToSocketAddrs::to_socket_addrs(&with_port)
        .expect("service address resolves")
        .find(SocketAddr::is_ipv4)
        .expect("an IPv4 service address")
}
