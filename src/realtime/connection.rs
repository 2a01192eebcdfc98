//! What `/ws` and Socket.IO's websockets share: the upgrade, and one task per
//! connection that reads the client's frames and writes what its [`Outbox`]
//! holds, every frame queued and then one flush (one write syscall per batch,
//! as the floor does). One task rather than a reader and a writer: no lock
//! between two halves of the socket, and one wake-up per batch.
//!
//! The task writes while it does not read: a write that waits on a client
//! that has stopped reading is bounded ([`Writing`]), so a dead client cannot
//! hold its task, and the server closing the connection (lagging, shutdown)
//! is seen while a write waits.

use std::future::Future;
use std::task::Poll;
use std::time::Duration;

use tokio::time::Instant;

use futures::SinkExt;
use http::{HeaderValue, Request, Response, StatusCode, header};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

use super::outbox::{Batch, Outbox};
use crate::error::Error;
use crate::http::response;

/// Room for a typical chat frame (a few hundred bytes). tungstenite grows the
/// buffer for a larger frame; an idle session keeps only this much.
pub const READ_BUFFER: usize = 1024;

/// The upgraded TCP stream itself: the server speaks HTTP/1.1 only, so hyper
/// hands it back as it took it, and tungstenite reads and writes it directly.
pub(crate) type Socket = WebSocketStream<TcpStream>;

/// Answers a websocket upgrade (101) and hands the socket to `serve` once hyper
/// has upgraded the connection, with tungstenite's read buffer sized for an
/// idle chat connection and frames capped at `max_frame_bytes`.
pub(crate) fn accept<F, Fut>(request: &mut Request<Incoming>, max_frame_bytes: usize, serve: F) -> warp::reply::Response
where
    F: FnOnce(Socket) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let Some(key) = request.headers().get(header::SEC_WEBSOCKET_KEY).cloned() else {
        return response::error(&Error::invalid("Expected a WebSocket upgrade request"));
    };
    let upgrading = hyper::upgrade::on(request);
    tokio::spawn(async move {
        match upgrading.await {
            Ok(upgraded) => {
                let Ok(parts) = upgraded.downcast::<TokioIo<TcpStream>>() else {
                    tracing::error!("websocket upgraded from a connection that is not TCP");
                    return;
                };
                let config = WebSocketConfig::default()
                    .read_buffer_size(READ_BUFFER)
                    .max_message_size(Some(max_frame_bytes))
                    .max_frame_size(Some(max_frame_bytes));
                let stream = parts.io.into_inner();
                // Bytes the client sent right behind its upgrade request.
                let socket = if parts.read_buf.is_empty() {
                    WebSocketStream::from_raw_socket(stream, Role::Server, Some(config)).await
                } else {
                    let early = parts.read_buf.to_vec();
                    WebSocketStream::from_partially_read(stream, early, Role::Server, Some(config)).await
                };
                serve(socket).await;
            }
            Err(error) => tracing::debug!(%error, "websocket upgrade failed"),
        }
    });
    let mut answer = Response::new(warp::hyper::body::Bytes::new().into());
    *answer.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let headers = answer.headers_mut();
    headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    if let Ok(accept) = HeaderValue::from_str(&derive_accept_key(key.as_bytes())) {
        headers.insert(header::SEC_WEBSOCKET_ACCEPT, accept);
    }
    answer
}

/// How a connection's writes end.
pub(crate) struct Writing {
    /// The close code when the server turns the client away (a shutdown says 1001).
    pub code: CloseCode,
    /// A client that takes nothing for this long is gone.
    pub stall: Duration,
    /// Once the connection is closing, how long its last frames may take.
    pub grace: Duration,
}

impl Writing {
    /// Writes a batch taken from `outbox`; `false` when the connection is done
    /// (closed, the peer gone, or not reading). `on_close` runs once, as soon
    /// as the server's close is seen (before the last frames are out): it stops
    /// the session, which must not stay registered and subscribed while a
    /// client that stopped reading gets its grace.
    pub(crate) async fn write(
        &self,
        socket: &mut Socket,
        outbox: &Outbox,
        batch: &mut Batch,
        closing: &mut Closing,
        on_close: impl FnOnce(),
    ) -> bool {
        if batch.close.is_some() {
            let by = closing.start(self.grace, on_close);
            return tokio::time::timeout_at(by, write_batch(socket, batch, self)).await.unwrap_or(false);
        }
        let written = write_batch(socket, batch, self);
        tokio::pin!(written);
        // Most writes are taken by the kernel at once: nothing more to watch.
        if let Poll::Ready(done) = futures::poll!(&mut written) {
            return done;
        }
        tokio::select! {
            done = &mut written => done,
            // Closed (lagging, shutdown) while this write waits: the client is
            // told why if it takes the rest within the grace.
            () = outbox.closed() => {
                let by = closing.start(self.grace, on_close);
                tokio::time::timeout_at(by, written).await.unwrap_or(false)
            }
        }
    }

    /// The connection is over: frames queued later are dropped, and when it
    /// was the client that went (it closed, or the connection broke), the close
    /// handshake gets the grace. (When the server closed it, its last write said so.)
    pub(crate) async fn finish(&self, socket: &mut Socket, outbox: &Outbox, ended: Ended) {
        outbox.close("closed");
        outbox.writer_gone();
        if ended == Ended::ByClient {
            let _ = tokio::time::timeout(self.grace, socket.close(None)).await;
        }
    }
}

/// Set once the server has closed the connection: its last frames have one
/// grace from that moment, however many writes they take.
#[derive(Default)]
pub(crate) struct Closing {
    by: Option<Instant>,
}

impl Closing {
    fn start(&mut self, grace: Duration, on_close: impl FnOnce()) -> Instant {
        *self.by.get_or_insert_with(|| {
            on_close();
            Instant::now() + grace
        })
    }
}

/// Who ended a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ended {
    ByClient,
    ByServer,
}

/// Frames a batch's buffer keeps room for between writes.
const KEPT_FRAMES: usize = 16;

/// Writes a batch's frames, then its close if it has one (with `code`, or 1001
/// "going away" when the server is shutting down), else flushes once. `false`
/// when the connection is done: closed, or the peer gone.
/// Each step that waits on the client may wait `stall` at most: a client
/// that takes nothing for that long is gone (one that reads slowly is not).
async fn write_batch(socket: &mut Socket, batch: &mut Batch, writing: &Writing) -> bool {
    let taken = |step: Result<Result<(), _>, _>| match step {
        Ok(Ok(())) => true,
        Ok(Err(_)) => false,
        Err(_) => {
            tracing::debug!("client stopped reading");
            false
        }
    };
    while let Some(frame) = batch.frames.pop_front() {
        if !taken(tokio::time::timeout(writing.stall, socket.feed(text(frame))).await) {
            return false;
        }
    }
    // A burst's buffer is not kept: an idle connection holds a small one.
    if batch.frames.capacity() > KEPT_FRAMES {
        batch.frames.shrink_to(KEPT_FRAMES);
    }
    if let Some(close) = batch.close {
        let code = if close.going_away { CloseCode::Away } else { writing.code };
        let _ = socket.send(Message::Close(Some(close_frame(code, close.reason)))).await;
        return false;
    }
    taken(tokio::time::timeout(writing.stall, socket.flush()).await)
}

fn text(frame: bytes::Bytes) -> Message {
    // Frames are built from serde_json output: valid UTF-8 by construction.
    match Utf8Bytes::try_from(frame) {
        Ok(text) => Message::Text(text),
        Err(_) => Message::Text("{}".into()),
    }
}

pub(crate) fn close_frame(code: CloseCode, reason: &'static str) -> CloseFrame {
    CloseFrame { code, reason: reason.into() }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use bytes::Bytes;
    use tokio::net::{TcpSocket, TcpStream};

    use super::*;

    const WRITING: Writing =
        Writing { code: CloseCode::Policy, stall: Duration::from_secs(45), grace: Duration::from_secs(2) };

    /// A server-side websocket whose client never reads (both ends' buffers
    /// small, so a few hundred KB fill them), and that client's end.
    async fn socket_to_a_client_that_does_not_read() -> (Socket, TcpStream) {
        let listener = TcpSocket::new_v4().unwrap();
        listener.set_recv_buffer_size(4096).unwrap();
        listener.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let listener = listener.listen(1).unwrap();
        let ours = TcpSocket::new_v4().unwrap();
        ours.set_send_buffer_size(4096).unwrap();
        let ours = ours.connect(listener.local_addr().unwrap()).await.unwrap();
        let (theirs, _) = listener.accept().await.unwrap();
        (WebSocketStream::from_raw_socket(ours, Role::Server, None).await, theirs)
    }

    /// 2 MB of frames, taken as one batch.
    async fn a_large_batch(outbox: &Outbox) -> Batch {
        for _ in 0..256 {
            outbox.push(Bytes::from(vec![b'x'; 8192])).unwrap();
        }
        let mut batch = Batch::default();
        outbox.take(&mut batch).await;
        batch
    }

    #[tokio::test(start_paused = true)]
    async fn a_client_that_takes_nothing_for_the_stall_is_gone() {
        let (mut socket, _client) = socket_to_a_client_that_does_not_read().await;
        let outbox = Outbox::new(1024);
        let mut batch = a_large_batch(&outbox).await;
        let started = Instant::now();
        let mut closing = Closing::default();
        assert!(!WRITING.write(&mut socket, &outbox, &mut batch, &mut closing, || {}).await, "the connection is done");
        assert!(started.elapsed() >= WRITING.stall, "{:?}", started.elapsed());
    }

    #[tokio::test(start_paused = true)]
    async fn a_server_close_during_a_stuck_write_ends_it_after_the_grace() {
        let (mut socket, _client) = socket_to_a_client_that_does_not_read().await;
        let outbox = Arc::new(Outbox::new(1024));
        let mut batch = a_large_batch(&outbox).await;
        let started = Instant::now();
        tokio::spawn({
            let outbox = outbox.clone();
            async move {
                tokio::time::sleep(Duration::from_secs(1)).await;
                outbox.close("lagging");
            }
        });
        let mut closing = Closing::default();
        let mut session_stopped_at = None;
        let on_close = || session_stopped_at = Some(started.elapsed());
        assert!(!WRITING.write(&mut socket, &outbox, &mut batch, &mut closing, on_close).await);
        let took = started.elapsed();
        assert!(took >= Duration::from_secs(3) && took < WRITING.stall, "closed at 1 s, then the 2 s grace: {took:?}");
        assert_eq!(session_stopped_at, Some(Duration::from_secs(1)), "the session stops when the close is seen");

        // The close's own frames (the notice) get what is left of that grace, not another.
        outbox.take(&mut batch).await;
        let before = Instant::now();
        let mut called_again = false;
        assert!(!WRITING.write(&mut socket, &outbox, &mut batch, &mut closing, || called_again = true).await);
        assert!(before.elapsed() < Duration::from_millis(1), "the grace was over: {:?}", before.elapsed());
        assert!(!called_again, "the session was stopped once");
    }

    #[tokio::test]
    async fn a_batch_is_written_and_its_buffer_kept_small() {
        let (mut socket, mut client) = socket_to_a_client_that_does_not_read().await;
        let outbox = Outbox::new(1024);
        for _ in 0..100 {
            outbox.push(Bytes::from_static(b"{}")).unwrap();
        }
        let mut batch = Batch::default();
        outbox.take(&mut batch).await;
        // The client reads now: the batch goes out whole.
        let reading = tokio::spawn(async move {
            let mut received = Vec::new();
            while received.len() < 100 * 4 {
                let mut buffer = [0u8; 4096];
                let n = tokio::io::AsyncReadExt::read(&mut client, &mut buffer).await.unwrap();
                assert!(n > 0, "the connection closed early");
                received.extend_from_slice(&buffer[..n]);
            }
            received
        });
        assert!(WRITING.write(&mut socket, &outbox, &mut batch, &mut Closing::default(), || {}).await);
        // 100 unmasked text frames of 2 bytes: 0x81, length, payload.
        assert_eq!(reading.await.unwrap(), b"\x81\x02{}".repeat(100));
        assert!(batch.frames.is_empty() && batch.frames.capacity() <= KEPT_FRAMES, "a burst's buffer is not kept");
    }
}
