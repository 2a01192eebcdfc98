//! What carries a session's text frames: a websocket (Socket.IO's websocket
//! transport, or `/ws`), or Engine.IO's HTTP long-polling (what browsers start
//! with, and all they have behind proxies that refuse upgrades). Sessions see
//! the same Engine.IO packets either way.

use futures::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_tungstenite::MaybeTlsStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;

/// Engine.IO v4 separates the packets of one polling payload with this.
const RECORD_SEPARATOR: char = '\u{1e}';
/// Packets read by the poller and not yet taken by the session.
const POLLED_QUEUE: usize = 1024;

pub enum Link {
    Socket(Box<WebSocketStream<MaybeTlsStream<TcpStream>>>),
    Polling(Polling),
}

impl Link {
    pub async fn send(&mut self, text: String) -> Result<(), String> {
        match self {
            Self::Socket(socket) => socket.send(Message::text(text)).await.map_err(|e| e.to_string()),
            Self::Polling(polling) => polling.send(text).await,
        }
    }

    /// The next text frame or packet; `None` once the connection is closed.
    pub async fn next(&mut self) -> Option<Result<String, String>> {
        match self {
            Self::Socket(socket) => loop {
                match socket.next().await? {
                    Ok(Message::Text(text)) => return Some(Ok(text.to_string())),
                    Ok(Message::Close(_)) => return None,
                    Ok(_) => continue,
                    Err(error) => return Some(Err(error.to_string())),
                }
            },
            Self::Polling(polling) => polling.packets.recv().await,
        }
    }

    pub async fn close(&mut self) {
        match self {
            Self::Socket(socket) => {
                let _ = WebSocketStream::close(&mut **socket, None).await;
            }
            Self::Polling(polling) => {
                // Engine.IO's close packet, then stop polling.
                let _ = polling.send("1".to_string()).await;
                polling.poller.abort();
            }
        }
    }
}

/// An Engine.IO session over long-polling: a task keeps one GET outstanding
/// and queues what it brings; each send is a POST.
pub struct Polling {
    client: reqwest::Client,
    /// `.../socket.io/?EIO=4&transport=polling&sid=...`
    url: String,
    packets: mpsc::Receiver<Result<String, String>>,
    poller: JoinHandle<()>,
}

impl Polling {
    /// The handshake (its `0{...}` open packet is the first packet the session
    /// reads, as over a websocket), then polling starts.
    pub async fn open(client: reqwest::Client, base_url: &str) -> Result<Self, String> {
        let body = get(&client, base_url).await?;
        let open = body.split(RECORD_SEPARATOR).next().unwrap_or_default().to_string();
        let sid = open
            .strip_prefix('0')
            .and_then(|json| serde_json::from_str::<serde_json::Value>(json).ok())
            .and_then(|handshake| handshake["sid"].as_str().map(str::to_string))
            .ok_or_else(|| format!("no Engine.IO open packet in the handshake: {open:.80}"))?;
        let url = format!("{base_url}&sid={sid}");
        let (queue, packets) = mpsc::channel(POLLED_QUEUE);
        for packet in body.split(RECORD_SEPARATOR) {
            let _ = queue.try_send(Ok(packet.to_string()));
        }
        let poller = tokio::spawn(poll(client.clone(), url.clone(), queue));
        Ok(Self { client, url, packets, poller })
    }

    async fn send(&self, packet: String) -> Result<(), String> {
        let response = self.client.post(&self.url).body(packet).send().await.map_err(|e| e.to_string())?;
        if response.status().is_success() { Ok(()) } else { Err(format!("POST: HTTP {}", response.status())) }
    }
}

impl Drop for Polling {
    fn drop(&mut self) {
        self.poller.abort();
    }
}

async fn poll(client: reqwest::Client, url: String, queue: mpsc::Sender<Result<String, String>>) {
    loop {
        match get(&client, &url).await {
            Ok(body) => {
                for packet in body.split(RECORD_SEPARATOR).filter(|p| !p.is_empty()) {
                    // The session stopped reading: nothing more to poll for.
                    if queue.send(Ok(packet.to_string())).await.is_err() {
                        return;
                    }
                }
            }
            Err(error) => {
                let _ = queue.send(Err(error)).await;
                return;
            }
        }
    }
}

async fn get(client: &reqwest::Client, url: &str) -> Result<String, String> {
    let response = client.get(url).send().await.map_err(|e| e.to_string())?;
    let status = response.status();
    if !status.is_success() {
        return Err(format!("GET: HTTP {status}"));
    }
    response.text().await.map_err(|e| e.to_string())
}
