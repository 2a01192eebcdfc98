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

use std::collections::VecDeque;
use std::future::Future;
use std::io::IoSlice;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::Poll;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::time::Instant;

use bytes::Bytes;
use futures::SinkExt;
use http::{HeaderValue, Request, Response, StatusCode, header};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role, WebSocketConfig};

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
        // Counts the steps (frames, the flush) the kernel has taken; only a
        // write that waits reads it, so the fast path pays no timer.
        let progress = AtomicU64::new(0);
        if batch.close.is_some() {
            let by = closing.start(self.grace, on_close);
            return tokio::time::timeout_at(by, write_batch(socket, batch, self.code, &progress))
                .await
                .unwrap_or(false);
        }
        let written = write_batch(socket, batch, self.code, &progress);
        tokio::pin!(written);
        // Most writes are taken by the kernel at once: nothing more to watch.
        if let Poll::Ready(done) = futures::poll!(&mut written) {
            return done;
        }
        tokio::select! {
            done = &mut written => done,
            () = stalled(&progress, self.stall) => {
                tracing::debug!("client stopped reading");
                false
            }
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

/// How often a waiting write looks at its progress: a client that takes
/// nothing is found gone between `stall` and `stall` plus this share of it.
const STALL_CHECKS: u32 = 8;

/// Ends once `progress` has not moved for `stall`: a client that takes nothing
/// for that long is gone (one that reads slowly is not).
async fn stalled(progress: &AtomicU64, stall: Duration) {
    let mut seen = progress.load(Ordering::Relaxed);
    let mut moved_at = Instant::now();
    loop {
        tokio::time::sleep(stall / STALL_CHECKS).await;
        let now = progress.load(Ordering::Relaxed);
        if now != seen {
            (seen, moved_at) = (now, Instant::now());
        } else if moved_at.elapsed() >= stall {
            return;
        }
    }
}

/// Writes a batch's frames, then its close if it has one (with `code`, or 1001
/// "going away" when the server is shutting down), else flushes once, counting
/// each write the kernel takes in `progress`. `false` when the connection is
/// done: closed, or the peer gone.
async fn write_batch(socket: &mut Socket, batch: &mut Batch, code: CloseCode, progress: &AtomicU64) -> bool {
    if !batch.frames.is_empty() {
        // What tungstenite owes the client (a pong) goes out whole first: the
        // frames then go to the stream itself, and tungstenite writes again
        // only once they are all out (the task does nothing else meanwhile).
        if socket.flush().await.is_err() || write_frames(socket.get_mut(), &mut batch.frames, progress).await.is_err() {
            return false;
        }
    }
    // A burst's buffer is not kept: an idle connection holds a small one.
    if batch.frames.capacity() > KEPT_FRAMES {
        batch.frames.shrink_to(KEPT_FRAMES);
    }
    if let Some(close) = batch.close {
        let code = if close.going_away { CloseCode::Away } else { code };
        let _ = socket.send(Message::Close(Some(close_frame(code, close.reason)))).await;
        return false;
    }
    true
}

/// Frames one `writev` carries at most (two slices each: header, payload).
const FRAMES_PER_WRITE: usize = 64;

/// Writes `frames` as websocket text frames straight to the stream, as many
/// per `writev` as fit: each frame's payload is the shared encoded event, and
/// only its header (2-10 bytes) is made here. Text without a check: every
/// frame is serde_json's output or ASCII we build, UTF-8 by construction.
async fn write_frames(
    stream: &mut TcpStream,
    frames: &mut VecDeque<Bytes>,
    progress: &AtomicU64,
) -> std::io::Result<()> {
    // Bytes of the first frame (header and payload) already written.
    let mut written = 0;
    while !frames.is_empty() {
        let mut headers = [FrameHeader::EMPTY; FRAMES_PER_WRITE];
        for (header, frame) in headers.iter_mut().zip(frames.iter()) {
            *header = FrameHeader::text(frame.len());
        }
        let count = frames.len().min(FRAMES_PER_WRITE);
        let mut slices = [IoSlice::new(&[]); 2 * FRAMES_PER_WRITE];
        for (index, (header, frame)) in headers.iter().zip(frames.iter()).enumerate().take(count) {
            let skip = if index == 0 { written } else { 0 };
            let header = header.bytes();
            slices[2 * index] = IoSlice::new(header.get(skip..).unwrap_or_default());
            slices[2 * index + 1] = IoSlice::new(frame.get(skip.saturating_sub(header.len())..).unwrap_or_default());
        }
        let mut taken = stream.write_vectored(&slices[..2 * count]).await?;
        if taken == 0 {
            return Err(std::io::ErrorKind::WriteZero.into());
        }
        progress.fetch_add(1, Ordering::Relaxed);
        // Drop the frames the kernel took whole; remember how far into the next it got.
        taken += written;
        while let Some(frame) = frames.front() {
            let size = FrameHeader::text(frame.len()).bytes().len() + frame.len();
            if taken < size {
                break;
            }
            taken -= size;
            frames.pop_front();
        }
        written = taken;
    }
    Ok(())
}

/// A server's websocket text frame header (FIN, opcode 1, unmasked) for a
/// payload of a given length.
#[derive(Clone, Copy)]
struct FrameHeader {
    bytes: [u8; 10],
    len: u8,
}

impl FrameHeader {
    const EMPTY: Self = Self { bytes: [0; 10], len: 0 };

    fn text(payload: usize) -> Self {
        let mut bytes = [0u8; 10];
        bytes[0] = 0x81;
        let len = if payload < 126 {
            bytes[1] = payload as u8;
            2
        } else if let Ok(short) = u16::try_from(payload) {
            bytes[1] = 126;
            bytes[2..4].copy_from_slice(&short.to_be_bytes());
            4
        } else {
            bytes[1] = 127;
            bytes[2..10].copy_from_slice(&(payload as u64).to_be_bytes());
            10
        };
        Self { bytes, len }
    }

    fn bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
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
        let took = started.elapsed();
        assert!(took >= WRITING.stall && took <= WRITING.stall + WRITING.stall / STALL_CHECKS, "{took:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_client_that_reads_slowly_is_not_dropped() {
        let (mut socket, mut client) = socket_to_a_client_that_does_not_read().await;
        let outbox = Outbox::new(1024);
        let mut batch = a_large_batch(&outbox).await;
        // 64 KB every 30 s: 2 MB take 16 minutes, every pause shorter than the stall.
        let reading = tokio::spawn(async move {
            let mut buffer = vec![0u8; 65536];
            loop {
                let mut read = 0;
                while read < buffer.len() {
                    match tokio::io::AsyncReadExt::read(&mut client, &mut buffer[read..]).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => read += n,
                    }
                }
                tokio::time::sleep(Duration::from_secs(30)).await;
            }
        });
        let started = Instant::now();
        assert!(WRITING.write(&mut socket, &outbox, &mut batch, &mut Closing::default(), || {}).await);
        assert!(started.elapsed() > Duration::from_secs(600), "the client was slow: {:?}", started.elapsed());
        drop(socket);
        reading.await.unwrap();
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
    async fn frames_of_every_header_size_reach_a_websocket_client_whole_across_partial_writes() {
        let (mut socket, client) = socket_to_a_client_that_does_not_read().await;
        let outbox = Outbox::new(1024);
        // Lengths around each header form's limits (7-bit, 16-bit, 64-bit),
        // each frame filled with its own letter; small socket buffers split them.
        let sizes = [0, 5, 125, 126, 300, 65535, 65536, 70000];
        let sent: Vec<String> = (0..3)
            .flat_map(|round| sizes.iter().enumerate().map(move |(index, size)| (round * sizes.len() + index, *size)))
            .map(|(index, size)| char::from(b'a' + (index % 26) as u8).to_string().repeat(size))
            .collect();
        for frame in &sent {
            outbox.push(Bytes::from(frame.clone())).unwrap();
        }
        let mut batch = Batch::default();
        outbox.take(&mut batch).await;
        let expected = sent.clone();
        let reading = tokio::spawn(async move {
            let mut client = WebSocketStream::from_raw_socket(client, Role::Client, None).await;
            for frame in expected {
                match futures::StreamExt::next(&mut client).await {
                    Some(Ok(Message::Text(text))) => {
                        assert!(text.as_str() == frame, "a frame of {} bytes", frame.len())
                    }
                    other => panic!("expected a text frame of {} bytes, got {other:?}", frame.len()),
                }
            }
        });
        assert!(WRITING.write(&mut socket, &outbox, &mut batch, &mut Closing::default(), || {}).await);
        reading.await.unwrap();
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
