//! A TLS terminator the load-generator tests put in front of the server: a
//! self-signed certificate made with the openssl command, TLS accepted with
//! native-tls, bytes passed on to the server's plain port.

use std::net::SocketAddr;
use std::process::Command;

use tokio::net::{TcpListener, TcpStream};

pub struct TlsProxy {
    pub address: SocketAddr,
    accept: tokio::task::JoinHandle<()>,
}

impl TlsProxy {
    pub async fn start(target: SocketAddr) -> Self {
        let dir = std::env::temp_dir().join(format!("rtchat-tls-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
        let made = Command::new("openssl")
            .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost"])
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .output()
            .expect("the openssl command runs");
        assert!(made.status.success(), "openssl: {}", String::from_utf8_lossy(&made.stderr));
        let identity =
            native_tls::Identity::from_pkcs8(&std::fs::read(&cert).unwrap(), &std::fs::read(&key).unwrap()).unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        let acceptor = tokio_native_tls::TlsAcceptor::from(native_tls::TlsAcceptor::new(identity).unwrap());
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("proxy listens");
        let address = listener.local_addr().expect("proxy address");
        let accept = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let Ok(mut client) = acceptor.accept(client).await else { return };
                    let Ok(mut server) = TcpStream::connect(target).await else { return };
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                });
            }
        });
        Self { address, accept }
    }
}

impl Drop for TlsProxy {
    fn drop(&mut self) {
        self.accept.abort();
    }
}
