//! What `/ws` and Socket.IO's websockets share: the upgrade, the socket's
//! [`Outbox`] (which owns its writing side: a frame is written by whoever
//! pushes it, and queued for the connection's task only when the client reads
//! slowly), and how a connection's writes end ([`Writing`]). Each connection
//! has one task that reads the client's frames and drives its outbox.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

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

use super::outbox::{Close, Framing, Outbox, Wire};
use crate::error::Error;
use crate::http::response;

/// Room for a typical chat frame (a few hundred bytes). tungstenite grows the
/// buffer for a larger frame; an idle session keeps only this much.
pub const READ_BUFFER: usize = 1024;

/// The upgraded TCP stream itself (the server speaks HTTP/1.1 only, so hyper
/// hands it back as it took it), read by tungstenite; its writes go through
/// the connection's [`Outbox`].
pub(crate) type Socket = WebSocketStream<Wire>;

/// Answers a websocket upgrade (101) and hands the socket and its outbox
/// (`queue` frames at most waiting for a slow client; what actors send framed
/// as `framing` says) to `serve` once hyper has upgraded the connection, with
/// tungstenite's read buffer sized for an idle chat connection and frames
/// capped at `max_frame_bytes`.
pub(crate) fn accept<F, Fut>(
    request: &mut Request<Incoming>,
    max_frame_bytes: usize,
    queue: usize,
    framing: &'static dyn Framing,
    serve: F,
) -> warp::reply::Response
where
    F: FnOnce(Socket, Arc<Outbox>) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let Some(key) = request.headers().get(header::SEC_WEBSOCKET_KEY).cloned() else {
        return response::error(&Error::invalid("Expected a WebSocket upgrade request"));
    };
    let upgrading = hyper::upgrade::on(request);
    tokio::spawn(async move {
        match upgrading.await {
            Ok(upgraded) => {
                let Ok(hyper::upgrade::Parts { io, read_buf, .. }) = upgraded.downcast::<TokioIo<TcpStream>>() else {
                    tracing::error!("websocket upgraded from a connection that is not TCP");
                    return;
                };
                // Bytes the client sent right behind its upgrade request. The
                // buffer they sit in is hyper's whole read buffer (8 KiB), kept
                // alive by `read_buf` even when it is empty: copied out and let
                // go here, not held for the connection's life.
                let early = (!read_buf.is_empty()).then(|| read_buf.to_vec());
                drop(read_buf);
                let config = WebSocketConfig::default()
                    .read_buffer_size(READ_BUFFER)
                    .max_message_size(Some(max_frame_bytes))
                    .max_frame_size(Some(max_frame_bytes));
                let outbox = Outbox::new(io.into_inner(), queue, framing);
                let wire = Wire(outbox.clone());
                let socket = match early {
                    None => WebSocketStream::from_raw_socket(wire, Role::Server, Some(config)).await,
                    Some(early) => WebSocketStream::from_partially_read(wire, early, Role::Server, Some(config)).await,
                };
                serve(socket, outbox).await;
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
    /// The server closed the connection ([`Outbox::drive`] said so): what is
    /// queued, then the close (with `code`, or 1001 "going away" when the
    /// server is shutting down), within one grace.
    pub(crate) async fn close(&self, socket: &mut Socket, outbox: &Outbox, close: Close) {
        let code = if close.going_away { CloseCode::Away } else { self.code };
        let frame = Message::Close(Some(close_frame(code, close.reason)));
        let _ = tokio::time::timeout(self.grace, async {
            let _ = socket.send(frame).await;
            outbox.flush().await
        })
        .await;
    }

    /// The connection is over: frames queued later are dropped, and when it
    /// was the client that went (it closed, or the connection broke), the close
    /// handshake gets the grace. (When the server closed it, its last write said
    /// so.) Then the TCP connection ends, whoever still holds the outbox.
    pub(crate) async fn finish(&self, socket: &mut Socket, outbox: &Outbox, ended: Ended) {
        outbox.close_without_notice("closed");
        outbox.writer_gone();
        if ended == Ended::ByClient {
            // A client that closed is owed tungstenite's reply, which only a
            // flush writes (a close after the client's is refused); one whose
            // connection broke or ended without a close gets ours.
            let _ = tokio::time::timeout(self.grace, async {
                let _ = socket.close(None).await;
                let _ = socket.flush().await;
                outbox.flush().await
            })
            .await;
        }
        outbox.shut_down();
    }
}

/// Who ended a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ended {
    ByClient,
    ByServer,
}

pub(crate) fn close_frame(code: CloseCode, reason: &'static str) -> CloseFrame {
    CloseFrame { code, reason: reason.into() }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use futures::StreamExt;
    use tokio::time::Instant;

    use super::*;
    use crate::realtime::outbox::Driven;

    const WRITING: Writing =
        Writing { code: CloseCode::Policy, stall: Duration::from_secs(45), grace: Duration::from_secs(2) };

    /// A server-side websocket and its outbox, whose client never reads until
    /// told (both ends' buffers small, so a few hundred KB fill them), and that
    /// client's end.
    async fn socket_to_a_client_that_does_not_read() -> (Socket, Arc<Outbox>, TcpStream) {
        let (outbox, theirs) = crate::realtime::outbox::tests::outbox_to_a_client_that_does_not_read(1024).await;
        let socket = WebSocketStream::from_raw_socket(Wire(outbox.clone()), Role::Server, None).await;
        (socket, outbox, theirs)
    }

    /// 2 MB of frames, most of them queued behind a full socket.
    fn a_large_burst(outbox: &Outbox) {
        for _ in 0..256 {
            outbox.push(Bytes::from(vec![b'x'; 8192])).unwrap();
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_client_that_takes_nothing_for_the_stall_is_gone() {
        let (_socket, outbox, _client) = socket_to_a_client_that_does_not_read().await;
        a_large_burst(&outbox);
        let started = Instant::now();
        assert_eq!(outbox.drive(WRITING.stall).await, Driven::Stalled);
        let took = started.elapsed();
        assert!(took >= WRITING.stall && took < WRITING.stall + Duration::from_secs(1), "{took:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_client_that_reads_slowly_is_not_dropped() {
        let (_socket, outbox, mut client) = socket_to_a_client_that_does_not_read().await;
        a_large_burst(&outbox);
        // 64 KB every 30 s: 2 MB take 16 minutes, every pause shorter than the stall.
        let reading = tokio::spawn(async move {
            let mut buffer = vec![0u8; 65536];
            let mut total = 0;
            while total < 256 * (4 + 8192) {
                let mut read = 0;
                while read < buffer.len() && total + read < 256 * (4 + 8192) {
                    match tokio::io::AsyncReadExt::read(&mut client, &mut buffer[read..]).await {
                        Ok(0) | Err(_) => return total + read,
                        Ok(n) => read += n,
                    }
                }
                total += read;
                tokio::time::sleep(Duration::from_secs(30)).await;
            }
            total
        });
        let driving = tokio::time::timeout(Duration::from_secs(1200), outbox.drive(WRITING.stall)).await;
        assert!(driving.is_err(), "still connected after 20 minutes: {driving:?}");
        assert_eq!(reading.await.unwrap(), 256 * (4 + 8192), "everything arrived");
    }

    #[tokio::test(start_paused = true)]
    async fn a_server_close_during_a_stuck_write_ends_it_after_the_grace() {
        let (mut socket, outbox, _client) = socket_to_a_client_that_does_not_read().await;
        a_large_burst(&outbox);
        let started = Instant::now();
        tokio::spawn({
            let outbox = outbox.clone();
            async move {
                tokio::time::sleep(Duration::from_secs(1)).await;
                outbox.close_without_notice("lagging");
            }
        });
        let Driven::Closed(close) = outbox.drive(WRITING.stall).await else { panic!("closed by the server") };
        assert_eq!(started.elapsed(), Duration::from_secs(1), "the close is seen while the write waits");
        WRITING.close(&mut socket, &outbox, close).await;
        assert_eq!(started.elapsed(), Duration::from_secs(3), "then the 2 s grace");
    }

    #[tokio::test]
    async fn frames_of_every_header_size_reach_a_websocket_client_whole_across_partial_writes() {
        let (_socket, outbox, client) = socket_to_a_client_that_does_not_read().await;
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
        let driving = tokio::spawn({
            let outbox = outbox.clone();
            async move { outbox.drive(WRITING.stall).await }
        });
        let mut client = WebSocketStream::from_raw_socket(client, Role::Client, None).await;
        for frame in sent {
            match client.next().await {
                Some(Ok(Message::Text(text))) => assert!(text.as_str() == frame, "a frame of {} bytes", frame.len()),
                other => panic!("expected a text frame of {} bytes, got {other:?}", frame.len()),
            }
        }
        driving.abort();
    }

    #[tokio::test]
    async fn the_client_sees_the_connection_end_though_a_room_still_holds_the_outbox() {
        let (mut socket, outbox, mut client) = socket_to_a_client_that_does_not_read().await;
        let held_by_a_room = outbox.clone();
        WRITING.finish(&mut socket, &outbox, Ended::ByServer).await;
        drop((socket, outbox));
        let mut buffer = [0u8; 16];
        let read =
            tokio::time::timeout(Duration::from_secs(5), tokio::io::AsyncReadExt::read(&mut client, &mut buffer))
                .await
                .expect("the connection ends, not hangs");
        assert_eq!(read.unwrap(), 0, "end of stream");
        assert!(held_by_a_room.push(Bytes::from_static(b"late")).is_ok(), "dropped quietly");
    }

    #[tokio::test]
    async fn a_client_that_closes_mid_frame_gets_that_frame_whole_then_the_close_reply() {
        let (mut socket, outbox, client) = socket_to_a_client_that_does_not_read().await;
        let mut client = WebSocketStream::from_raw_socket(client, Role::Client, None).await;
        // 1 MB cannot all go at once: it is half on the wire, the burst behind it.
        outbox.push(Bytes::from(vec![b'y'; 1 << 20])).unwrap();
        a_large_burst(&outbox);
        assert!(outbox.partly_written(), "a frame is half on the wire");
        client.send(Message::Close(None)).await.unwrap();
        assert!(matches!(socket.next().await, Some(Ok(Message::Close(_)))));
        let finishing = tokio::spawn(async move { WRITING.finish(&mut socket, &outbox, Ended::ByClient).await });
        let mut whole = 0;
        loop {
            match client.next().await {
                Some(Ok(Message::Text(text))) => {
                    assert_eq!(text.len(), if whole == 0 { 1 << 20 } else { 8192 });
                    whole += 1;
                }
                Some(Ok(Message::Close(_))) => break,
                other => panic!("whole frames, then the close reply: {other:?}"),
            }
        }
        assert_eq!(whole, 1, "the half frame, whole; what was queued behind it is dropped");
        finishing.await.unwrap();
    }

    #[tokio::test]
    async fn a_pong_owed_while_frames_wait_goes_after_them_whole() {
        let (mut socket, outbox, client) = socket_to_a_client_that_does_not_read().await;
        let mut client = WebSocketStream::from_raw_socket(client, Role::Client, None).await;
        a_large_burst(&outbox);
        client.send(Message::Ping(Bytes::from_static(b"are you there"))).await.unwrap();
        // The server reads the ping while its frames wait: tungstenite answers
        // through the outbox, behind them. One task reads and drives, as a
        // connection's does (the socket wakes one writer).
        let serving = tokio::spawn(async move {
            let drive = outbox.drive(WRITING.stall);
            tokio::pin!(drive);
            loop {
                tokio::select! {
                    _ = &mut drive => break,
                    incoming = socket.next() => if incoming.is_none() { break },
                }
            }
        });
        for _ in 0..256 {
            match client.next().await {
                Some(Ok(Message::Text(text))) => assert_eq!(text.len(), 8192),
                other => panic!("expected the burst first, got {other:?}"),
            }
        }
        match client.next().await {
            Some(Ok(Message::Pong(payload))) => assert_eq!(&payload[..], b"are you there"),
            other => panic!("expected the pong, got {other:?}"),
        }
        serving.abort();
    }
}
