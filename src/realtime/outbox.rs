//! A connection's way out: it owns the socket's writing side. A frame pushed
//! while nothing waits ahead of it is written at once by whoever pushes it (a
//! room's fan-out, a session's answer): one `writev` of the shared payload and
//! its header, no queue, no task woken. Only what the kernel does not take
//! (a client reading slowly) is queued, bounded, for the connection's task to
//! write as the socket drains ([`Outbox::drive`]), in order, many frames per
//! `writev`. The server's reason when it closes the connection is kept here too.
//! The outbox is also what a room holds of each member ([`Outbound`]): it
//! frames each event for its transport ([`Framing`]) and writes it.
//!
//! tungstenite reads the socket through [`Wire`], and its own frames (a pong,
//! the close) go through the same queue, so every byte leaves in order and a
//! frame is never split by another.

use std::collections::VecDeque;
use std::future::poll_fn;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::actors::outbound::{Lagging, Outbound};
use crate::protocol::SharedEvent;

/// The queue is full: the client stopped reading.
#[derive(Debug)]
pub struct Full;

/// Written to by anyone (rooms, the session, the connection itself); drained
/// by one task, its connection's; shared as an `Arc`. It is also what a room
/// holds of each member ([`Outbound`]): one pointer from the room to the lock
/// and the socket, which a fan-out touches once per member.
pub struct Outbox {
    stream: TcpStream,
    state: Mutex<State>,
    framing: &'static dyn Framing,
}

/// How a transport frames what actors send: the same outbox serves `/ws` and
/// Socket.IO, and the framing decides the bytes.
pub trait Framing: Send + Sync + 'static {
    /// The transport's name, for the logs.
    fn transport(&self) -> &'static str;
    /// The event's frame; `None` when this transport's clients do not receive it.
    fn frame(&self, event: &SharedEvent) -> Option<Bytes>;
    /// The frames that tell a client why the server closes its connection
    /// (sent past the bound, after what is queued); none when the transport
    /// has no such notice.
    fn farewell(&self, reason: &'static str) -> Vec<Bytes>;
}

/// The close reason when the server shuts down.
const GOING_AWAY: &str = "server shutting down";

struct State {
    /// Frames the kernel has not taken yet; the first may be partly written.
    frames: VecDeque<Frame>,
    /// Bytes of the first frame already written.
    written: usize,
    /// Frames at the front that the task is writing (all that were queued
    /// when it began): the bound counts only those behind them, as when the
    /// task took the whole queue as its batch.
    in_batch: usize,
    capacity: usize,
    closed: Option<Close>,
    /// The connection is over: frames are dropped, not queued.
    writer_gone: bool,
    /// A write failed: the peer is gone.
    failed: bool,
    /// Writes the kernel took, for the stall watch.
    progress: u64,
    /// The connection's task, while it waits for something to do.
    waiting: Option<Waker>,
}

/// Why and how the server closes a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Close {
    pub reason: &'static str,
    /// The server is going away (shutdown), not turning this client away: the
    /// close says so, and clients reconnect (to another node) on their own.
    pub going_away: bool,
}

/// How [`Outbox::drive`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Driven {
    /// The server closed the connection: its last frames and the close go next.
    Closed(Close),
    /// A write failed: the peer is gone.
    Failed,
    /// The client took nothing for the stall.
    Stalled,
}

/// Frames one `writev` carries at most (two slices each: header, payload).
const FRAMES_PER_WRITE: usize = 64;
/// Frames of tungstenite's own (pongs) that may queue past the bound before
/// it is held back.
const CONTROL_FRAMES: usize = 8;

impl Outbox {
    /// The way out of `stream`, queueing at most `capacity` frames the kernel
    /// has not taken.
    pub fn new(stream: TcpStream, capacity: usize, framing: &'static dyn Framing) -> Arc<Self> {
        let state = State {
            frames: VecDeque::new(),
            written: 0,
            in_batch: 0,
            capacity,
            closed: None,
            writer_gone: false,
            failed: false,
            progress: 0,
            waiting: None,
        };
        Arc::new(Self { stream, state: Mutex::new(state), framing })
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The state, unless the connection is closing or its peer is gone.
    fn accepting(&self) -> Option<MutexGuard<'_, State>> {
        let state = self.state();
        (!state.writer_gone && state.closed.is_none() && !state.failed).then_some(state)
    }

    /// Sends `payload` as a text frame: written now when nothing waits ahead
    /// of it, else queued; [`Full`] when the client is not reading. Once the
    /// connection is closing, frames are dropped. The payload is text without
    /// a check: serde_json's output or ASCII we build, UTF-8 by construction.
    pub fn push(&self, payload: Bytes) -> Result<(), Full> {
        // Closing, or the peer gone: nothing more goes out.
        let Some(mut state) = self.accepting() else { return Ok(()) };
        if state.frames.is_empty() {
            match state.write_through(&self.stream, Frame::text(payload)) {
                // The common case: the kernel took it all, nobody to wake.
                None if !state.failed => return Ok(()),
                // The task ends the connection.
                None => {}
                // The rest waits for the socket to drain, in the task's hands.
                Some(rest) => state.frames.push_back(rest),
            }
            wake(state);
            return Ok(());
        }
        // The task already has frames to write: it takes this one with them.
        state.enqueue(payload)
    }

    /// Queues `payload` as a text frame for the connection's task to write
    /// (with whatever else is queued, in one `writev`), waking it when the
    /// queue was empty; [`Full`] when the client is not reading.
    pub fn queue(&self, payload: Bytes) -> Result<(), Full> {
        // Closing, or the peer gone: nothing more goes out.
        let Some(mut state) = self.accepting() else { return Ok(()) };
        state.enqueue(payload)?;
        if state.frames.len() == 1 {
            wake(state);
        }
        Ok(())
    }

    /// Sends several text frames at once, in order: when nothing waits ahead
    /// of them they go out in one `writev` by whoever pushes them, and what the
    /// kernel does not take is left to the connection's task. [`Full`] when
    /// they do not all fit behind what is queued (the client is not reading).
    pub fn push_all(&self, payloads: impl IntoIterator<Item = Bytes>) -> Result<(), Full> {
        // Closing, or the peer gone: nothing more goes out.
        let Some(mut state) = self.accepting() else { return Ok(()) };
        let nothing_ahead = state.frames.is_empty();
        let queued = state.enqueue_all(payloads);
        if nothing_ahead {
            match state.write_queued(&self.stream) {
                // All out: nobody to wake.
                Ok(()) if state.frames.is_empty() => return queued,
                // The rest waits for the socket to drain, in the task's hands.
                Ok(()) => {}
                // The task ends the connection.
                Err(_) => state.failed = true,
            }
            wake(state);
        }
        queued
    }

    /// Queues several text frames for the connection's task, in order, waking
    /// it once; [`Full`] when they do not all fit.
    pub fn queue_all(&self, payloads: impl IntoIterator<Item = Bytes>) -> Result<(), Full> {
        // Closing, or the peer gone: nothing more goes out.
        let Some(mut state) = self.accepting() else { return Ok(()) };
        let nothing_ahead = state.frames.is_empty();
        let queued = state.enqueue_all(payloads);
        if nothing_ahead && !state.frames.is_empty() {
            wake(state);
        }
        queued
    }

    /// Closes the connection once what is queued is written, without the
    /// transport's notice ([`Outbound::close`] sends it); the first reason stays.
    pub fn close_without_notice(&self, reason: &'static str) {
        self.close_after(reason, [])
    }

    /// Closes the connection after what is queued and then `last` (a notice
    /// saying why), which is queued past the bound: a client dropped for not
    /// reading is still told, if it ever reads again.
    pub fn close_after(&self, reason: &'static str, last: impl IntoIterator<Item = Bytes>) {
        self.end(Close { reason, going_away: false }, last);
    }

    fn end(&self, close: Close, last: impl IntoIterator<Item = Bytes>) {
        let mut state = self.state();
        if state.closed.is_some() {
            return;
        }
        if !state.writer_gone {
            state.frames.extend(last.into_iter().map(Frame::text));
        }
        state.closed = Some(close);
        wake(state);
    }

    /// The server's reason, once it has closed the connection.
    pub fn closed_reason(&self) -> Option<&'static str> {
        self.closing().map(|close| close.reason)
    }

    /// How the server closed the connection, once it has.
    pub fn closing(&self) -> Option<Close> {
        self.state().closed
    }

    /// The connection's task: writes what is queued as the socket drains, and
    /// ends when the server closes the connection, a write fails, or the
    /// client takes nothing for `stall` (one that reads slowly is not cut
    /// off). Idle, it only waits: pushes write for themselves.
    pub async fn drive(&self, stall: Duration) -> Driven {
        let timer = tokio::time::sleep(stall);
        tokio::pin!(timer);
        // The progress count when the current wait for the socket began.
        let mut watching: Option<u64> = None;
        poll_fn(|cx| {
            let mut state = self.state();
            if let Some(close) = state.closed {
                return Poll::Ready(Driven::Closed(close));
            }
            state.wait(cx);
            match state.drain(&self.stream, cx) {
                Poll::Ready(Ok(())) => {
                    watching = None;
                    Poll::Pending
                }
                Poll::Ready(Err(_)) => Poll::Ready(Driven::Failed),
                Poll::Pending => {
                    let progress = state.progress;
                    drop(state);
                    if watching != Some(progress) {
                        watching = Some(progress);
                        timer.as_mut().reset(Instant::now() + stall);
                    }
                    match timer.as_mut().poll(cx) {
                        Poll::Ready(()) => {
                            tracing::debug!("client stopped reading");
                            Poll::Ready(Driven::Stalled)
                        }
                        Poll::Pending => Poll::Pending,
                    }
                }
            }
        })
        .await
    }

    /// The connection is over: what is queued, and anything pushed later, is
    /// dropped; a frame partly written stays, so that whatever goes next (the
    /// close) follows it whole.
    pub fn writer_gone(&self) {
        let mut state = self.state();
        state.writer_gone = true;
        let partly_written = usize::from(state.written > 0);
        state.frames.truncate(partly_written);
        state.in_batch = state.in_batch.min(partly_written);
        state.frames.shrink_to_fit();
    }

    /// Waits until everything queued is written (or a write fails).
    pub async fn flush(&self) -> io::Result<()> {
        poll_fn(|cx| self.state().drain(&self.stream, cx)).await
    }

    /// Ends the TCP connection now (the client sees it closed), though the
    /// outbox, and with it the socket, lives on until its last holder (a room
    /// that has not yet dropped the session) lets go.
    pub fn shut_down(&self) {
        self.writer_gone();
        let _ = socket2::SockRef::from(&self.stream).shutdown(std::net::Shutdown::Both);
    }

    /// Frames waiting for the socket to drain.
    #[cfg(test)]
    pub(crate) fn queued(&self) -> usize {
        self.state().frames.len()
    }

    /// Whether the first queued frame is partly on the wire.
    #[cfg(test)]
    pub(crate) fn partly_written(&self) -> bool {
        self.state().written > 0
    }
}

/// What a room's fan-out and a session's answers call: the event framed for
/// this connection's transport, written at once ([`Outbox::push`]) or by the
/// connection's task ([`Outbox::queue`]).
impl Outbound for Outbox {
    fn deliver(&self, event: &SharedEvent) -> Result<(), Lagging> {
        match self.framing.frame(event) {
            Some(frame) => self.push(frame).map_err(|_| Lagging),
            None => Ok(()),
        }
    }

    fn deliver_queued(&self, event: &SharedEvent) -> Result<(), Lagging> {
        match self.framing.frame(event) {
            Some(frame) => self.queue(frame).map_err(|_| Lagging),
            None => Ok(()),
        }
    }

    fn deliver_all(&self, events: &[&SharedEvent]) -> Result<(), Lagging> {
        self.push_all(events.iter().filter_map(|event| self.framing.frame(event))).map_err(|_| Lagging)
    }

    fn deliver_all_queued(&self, events: &[&SharedEvent]) -> Result<(), Lagging> {
        self.queue_all(events.iter().filter_map(|event| self.framing.frame(event))).map_err(|_| Lagging)
    }

    fn close(&self, reason: &'static str) {
        tracing::info!(transport = self.framing.transport(), reason, "disconnecting socket");
        self.close_after(reason, self.framing.farewell(reason));
    }

    /// Closes the connection once what is queued is written, as a server that
    /// is going away (shutdown) rather than one that turns the client away. No
    /// farewell (Socket.IO's DISCONNECT would tell a client to stay away): one
    /// whose connection closes reconnects, to another node, on its own.
    fn go_away(&self) {
        self.end(Close { reason: GOING_AWAY, going_away: true }, []);
    }
}

impl State {
    /// Frames queued behind the batch the task is writing.
    fn waiting_behind_the_batch(&self) -> usize {
        self.frames.len().saturating_sub(self.in_batch)
    }

    /// Queues a text frame for the task, within the bound.
    fn enqueue(&mut self, payload: Bytes) -> Result<(), Full> {
        if self.waiting_behind_the_batch() >= self.capacity {
            return Err(Full);
        }
        self.frames.push_back(Frame::text(payload));
        Ok(())
    }

    /// Queues text frames for the task, in order, up to the bound.
    fn enqueue_all(&mut self, payloads: impl IntoIterator<Item = Bytes>) -> Result<(), Full> {
        payloads.into_iter().try_for_each(|payload| self.enqueue(payload))
    }

    fn wait(&mut self, cx: &Context<'_>) {
        match &self.waiting {
            Some(waker) if waker.will_wake(cx.waker()) => {}
            _ => self.waiting = Some(cx.waker().clone()),
        }
    }

    /// Writes a frame now (nothing is queued); what the kernel did not take
    /// is handed back. A failed write marks the connection failed.
    fn write_through(&mut self, stream: &TcpStream, frame: Frame) -> Option<Frame> {
        let header = frame.header();
        let slices = [IoSlice::new(header.bytes()), IoSlice::new(&frame.payload)];
        let size = frame.size();
        match stream.try_write_vectored(&slices) {
            Ok(taken) if taken == size => {
                self.progress += 1;
                None
            }
            Ok(taken) => {
                self.progress += 1;
                self.written = taken;
                Some(frame)
            }
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => Some(frame),
            Err(_) => {
                self.failed = true;
                None
            }
        }
    }

    /// Writes what is queued, many frames per `writev`, until all is out (the
    /// task is then woken by the next push that cannot write for itself) or
    /// the socket is full (woken when it drains).
    fn drain(&mut self, stream: &TcpStream, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        loop {
            if self.failed {
                return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
            }
            if self.frames.is_empty() {
                return Poll::Ready(Ok(()));
            }
            if self.in_batch == 0 {
                self.in_batch = self.frames.len();
            }
            match self.write_some(stream) {
                Ok(()) => {}
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                    if let Err(error) = std::task::ready!(stream.poll_write_ready(cx)) {
                        tracing::debug!(%error, "websocket write failed");
                        self.failed = true;
                    }
                }
                Err(error) => {
                    tracing::debug!(%error, "websocket write failed");
                    self.failed = true;
                }
            }
        }
    }

    /// Writes queued frames until all are out or the kernel takes no more
    /// (not an error here: the task writes the rest as the socket drains).
    fn write_queued(&mut self, stream: &TcpStream) -> io::Result<()> {
        while !self.frames.is_empty() {
            match self.write_some(stream) {
                Ok(()) => {}
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(error) => return Err(error),
            }
        }
        Ok(())
    }

    /// One `writev` of the first queued frames (at most [`FRAMES_PER_WRITE`]),
    /// the first from where its last write stopped.
    fn write_some(&mut self, stream: &TcpStream) -> io::Result<()> {
        let count = self.frames.len().min(FRAMES_PER_WRITE);
        let mut headers = [FrameHeader::EMPTY; FRAMES_PER_WRITE];
        let mut slices = [IoSlice::new(&[]); 2 * FRAMES_PER_WRITE];
        for (index, frame) in self.frames.iter().take(count).enumerate() {
            headers[index] = frame.header();
        }
        for (index, (header, frame)) in headers.iter().zip(self.frames.iter()).take(count).enumerate() {
            let skip = if index == 0 { self.written } else { 0 };
            let header = header.bytes();
            slices[2 * index] = IoSlice::new(header.get(skip..).unwrap_or_default());
            slices[2 * index + 1] =
                IoSlice::new(frame.payload.get(skip.saturating_sub(header.len())..).unwrap_or_default());
        }
        match stream.try_write_vectored(&slices[..2 * count]) {
            Ok(0) => Err(io::ErrorKind::WriteZero.into()),
            Ok(taken) => {
                self.progress += 1;
                self.advance(taken);
                Ok(())
            }
            Err(error) => Err(error),
        }
    }

    /// The kernel took `taken` more bytes: drops the frames now out whole.
    fn advance(&mut self, taken: usize) {
        let mut taken = taken + self.written;
        while let Some(frame) = self.frames.front() {
            let size = frame.size();
            if taken < size {
                break;
            }
            taken -= size;
            self.frames.pop_front();
            self.in_batch = self.in_batch.saturating_sub(1);
        }
        self.written = taken;
    }
}

/// Wakes the connection's task if it waits, once the lock is released.
fn wake(mut state: MutexGuard<'_, State>) {
    let waiting = state.waiting.take();
    drop(state);
    if let Some(waker) = waiting {
        waker.wake();
    }
}

/// One frame on its way: a text frame's payload (its header is made when it is
/// written), or bytes tungstenite framed itself (a pong, the close).
struct Frame {
    payload: Bytes,
    framed: bool,
}

impl Frame {
    fn text(payload: Bytes) -> Self {
        Self { payload, framed: false }
    }

    fn framed(bytes: Bytes) -> Self {
        Self { payload: bytes, framed: true }
    }

    fn header(&self) -> FrameHeader {
        if self.framed { FrameHeader::EMPTY } else { FrameHeader::text(self.payload.len()) }
    }

    fn size(&self) -> usize {
        self.header().bytes().len() + self.payload.len()
    }
}

/// A server's websocket text frame header (FIN, opcode 1, unmasked) for a
/// payload of a given length: the only part of a frame made per recipient.
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

/// The socket as tungstenite sees it: reads go to the stream; its writes (a
/// pong, the close) join the outbox's queue behind what waits there, and its
/// flush drains that queue.
pub struct Wire(pub Arc<Outbox>);

impl AsyncRead for Wire {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let stream = &self.0.stream;
        loop {
            std::task::ready!(stream.poll_read_ready(cx))?;
            match stream.try_read(buf.initialize_unfilled()) {
                Ok(read) => {
                    buf.advance(read);
                    return Poll::Ready(Ok(()));
                }
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {}
                Err(error) => return Poll::Ready(Err(error)),
            }
        }
    }
}

impl AsyncWrite for Wire {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let outbox = &self.0;
        let mut state = outbox.state();
        if state.failed {
            return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
        }
        if state.frames.is_empty() {
            // Nothing ahead of it: straight to the socket, as a push would.
            match outbox.stream.try_write(buf) {
                Ok(taken) => {
                    state.progress += 1;
                    if taken < buf.len() {
                        state.frames.push_back(Frame::framed(Bytes::copy_from_slice(buf)));
                        state.written = taken;
                    }
                    return Poll::Ready(Ok(buf.len()));
                }
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {}
                Err(error) => {
                    state.failed = true;
                    return Poll::Ready(Err(error));
                }
            }
        } else if state.frames.len() >= state.capacity + CONTROL_FRAMES {
            // A client that sends pings and reads nothing: tungstenite keeps its
            // pong until the socket drains (this task is woken when it does).
            if let Poll::Ready(Err(error)) = state.drain(&outbox.stream, cx) {
                return Poll::Ready(Err(error));
            }
            if state.frames.len() >= state.capacity + CONTROL_FRAMES {
                return Poll::Pending;
            }
        }
        // Taken whole, so tungstenite never holds half a frame: bytes on the
        // wire stay whole frames whoever writes next.
        state.frames.push_back(Frame::framed(Bytes::copy_from_slice(buf)));
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let outbox = &self.0;
        outbox.state().drain(&outbox.stream, cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_flush(cx)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::future::Future;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use tokio::io::AsyncReadExt;
    use tokio::net::TcpSocket;

    use super::*;

    /// The tests' transport: each event as its `/ws` text, except `welcome`,
    /// which its clients do not receive; a close says goodbye in two frames.
    struct TestFraming;
    impl Framing for TestFraming {
        fn transport(&self) -> &'static str {
            "test"
        }
        fn frame(&self, event: &SharedEvent) -> Option<Bytes> {
            Some(event.ws_frame()).filter(|frame| !frame.starts_with(b"{\"event\":\"welcome\""))
        }
        fn farewell(&self, reason: &'static str) -> Vec<Bytes> {
            vec![Bytes::from(reason), Bytes::from_static(b"bye")]
        }
    }

    /// An outbox on a connection whose other end, returned, reads only when
    /// told (both ends' buffers small, so a few hundred KB fill them).
    pub(crate) async fn outbox_to_a_client_that_does_not_read(capacity: usize) -> (Arc<Outbox>, TcpStream) {
        let listener = TcpSocket::new_v4().unwrap();
        listener.set_recv_buffer_size(4096).unwrap();
        listener.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let listener = listener.listen(1).unwrap();
        let ours = TcpSocket::new_v4().unwrap();
        ours.set_send_buffer_size(4096).unwrap();
        let ours = ours.connect(listener.local_addr().unwrap()).await.unwrap();
        let (theirs, _) = listener.accept().await.unwrap();
        (Outbox::new(ours, capacity, &TestFraming), theirs)
    }

    fn frame(n: u8) -> Bytes {
        Bytes::from(vec![b'a' + n])
    }

    /// Fills the socket: one frame the kernel cannot take whole.
    fn fill(outbox: &Outbox) {
        outbox.push(Bytes::from(vec![b'x'; 1 << 20])).unwrap();
        assert_eq!(outbox.queued(), 1, "the rest of the large frame waits");
    }

    async fn read_exactly(client: &mut TcpStream, size: usize) -> Vec<u8> {
        let mut bytes = vec![0u8; size];
        client.read_exact(&mut bytes).await.unwrap();
        bytes
    }

    /// Counts the wake-ups of the task it stands for.
    struct Counting(AtomicUsize);
    impl futures::task::ArcWake for Counting {
        fn wake_by_ref(this: &Arc<Self>) {
            this.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    impl Counting {
        fn wakes(&self) -> usize {
            self.0.load(Ordering::Relaxed)
        }
    }

    /// The connection's task, polled once so that it waits, and its wake-ups.
    fn waiting_task(outbox: &Outbox) -> (Pin<Box<impl Future<Output = Driven> + '_>>, Arc<Counting>, Waker) {
        let wakes = Arc::new(Counting(AtomicUsize::new(0)));
        let waker = futures::task::waker(wakes.clone());
        let mut drive = Box::pin(outbox.drive(Duration::from_secs(45)));
        assert!(drive.as_mut().poll(&mut Context::from_waker(&waker)).is_pending(), "the task waits");
        (drive, wakes, waker)
    }

    #[tokio::test]
    async fn frames_pushed_while_nothing_waits_are_written_at_once_and_wake_nobody() {
        let (outbox, mut client) = outbox_to_a_client_that_does_not_read(4).await;
        let (_drive, wakes, _waker) = waiting_task(&outbox);
        for n in 0..3 {
            outbox.push(frame(n)).unwrap();
            assert_eq!(outbox.queued(), 0);
        }
        // Several at once: one write.
        outbox.push_all((3..6).map(frame)).unwrap();
        assert_eq!(outbox.queued(), 0);
        assert_eq!(wakes.wakes(), 0, "the pushers wrote for themselves");
        assert_eq!(read_exactly(&mut client, 18).await, b"\x81\x01a\x81\x01b\x81\x01c\x81\x01d\x81\x01e\x81\x01f");
    }

    #[tokio::test]
    async fn queued_frames_are_written_by_the_task_together_after_one_wake_up() {
        let (outbox, mut client) = outbox_to_a_client_that_does_not_read(16).await;
        let (mut drive, wakes, waker) = waiting_task(&outbox);
        for n in 0..3 {
            outbox.queue(frame(n)).unwrap();
        }
        // A push behind queued frames waits its turn.
        outbox.push(frame(3)).unwrap();
        assert_eq!(outbox.queued(), 4);
        assert_eq!(wakes.wakes(), 1, "one wake-up for them all");
        assert!(drive.as_mut().poll(&mut Context::from_waker(&waker)).is_pending());
        assert_eq!(outbox.queued(), 0, "written together");
        assert_eq!(read_exactly(&mut client, 12).await, b"\x81\x01a\x81\x01b\x81\x01c\x81\x01d");
        outbox.push(frame(4)).unwrap();
        assert_eq!(outbox.queued(), 0, "nothing waits: written at once again");
        let full = (0..32).map(|_| outbox.queue(frame(5))).filter(Result::is_err).count();
        assert_eq!(full, 16, "the bound holds for queued frames too");
    }

    #[tokio::test]
    async fn several_frames_behind_a_blocked_one_wait_in_order_within_the_bound() {
        // The partly written frame counts: four more fit.
        let (outbox, mut client) = outbox_to_a_client_that_does_not_read(5).await;
        let (mut drive, wakes, waker) = waiting_task(&outbox);
        fill(&outbox);
        let woken = wakes.wakes();
        outbox.push_all((0..2).map(frame)).unwrap();
        outbox.queue_all((2..4).map(frame)).unwrap();
        assert_eq!(outbox.queued(), 5);
        assert_eq!(wakes.wakes(), woken, "the task was already told about the queue");
        assert!(outbox.queue_all((4..6).map(frame)).is_err(), "past the bound");
        // The client reads: the task writes the rest in order.
        let reader = tokio::spawn(async move { read_exactly(&mut client, 10 + (1 << 20) + 4 * 3).await });
        for _ in 0..100_000 {
            if outbox.queued() == 0 {
                break;
            }
            assert!(drive.as_mut().poll(&mut Context::from_waker(&waker)).is_pending());
            tokio::task::yield_now().await;
        }
        let bytes = reader.await.unwrap();
        assert_eq!(&bytes[10 + (1 << 20)..], b"\x81\x01a\x81\x01b\x81\x01c\x81\x01d");
    }

    #[tokio::test]
    async fn several_frames_queued_at_once_wake_the_task_once() {
        let (outbox, mut client) = outbox_to_a_client_that_does_not_read(16).await;
        let (mut drive, wakes, waker) = waiting_task(&outbox);
        outbox.queue_all((0..3).map(frame)).unwrap();
        assert_eq!((outbox.queued(), wakes.wakes()), (3, 1));
        assert!(drive.as_mut().poll(&mut Context::from_waker(&waker)).is_pending());
        assert_eq!(outbox.queued(), 0, "written together");
        assert_eq!(read_exactly(&mut client, 9).await, b"\x81\x01a\x81\x01b\x81\x01c");
    }

    #[tokio::test]
    async fn frames_behind_a_blocked_one_queue_up_to_the_bound_then_go_in_order() {
        // The partly written frame counts: two more fit.
        let (outbox, mut client) = outbox_to_a_client_that_does_not_read(3).await;
        fill(&outbox);
        outbox.push(frame(0)).unwrap();
        outbox.push(frame(1)).unwrap();
        assert!(outbox.push(frame(2)).is_err(), "the client is not reading");
        let driving = tokio::spawn({
            let outbox = outbox.clone();
            async move { outbox.drive(Duration::from_secs(45)).await }
        });
        // The large frame (header 10 bytes), then the two small ones, in order.
        let large = read_exactly(&mut client, 10 + (1 << 20)).await;
        assert_eq!(&large[..2], b"\x81\x7f");
        assert_eq!(read_exactly(&mut client, 6).await, b"\x81\x01a\x81\x01b");
        outbox.push(frame(2)).unwrap();
        assert_eq!(outbox.queued(), 0, "drained: pushes write again");
        assert_eq!(read_exactly(&mut client, 3).await, b"\x81\x01c");
        outbox.close_without_notice("done");
        assert_eq!(driving.await.unwrap(), Driven::Closed(Close { reason: "done", going_away: false }));
    }

    #[tokio::test]
    async fn frames_the_task_is_writing_do_not_count_against_the_bound() {
        let (outbox, _client) = outbox_to_a_client_that_does_not_read(2).await;
        for n in 0..2 {
            outbox.queue(Bytes::from(vec![b'a' + n; 1 << 20])).unwrap();
        }
        assert!(outbox.queue(frame(0)).is_err(), "full before the task runs");
        let waker = futures::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        let mut drive = std::pin::pin!(outbox.drive(Duration::from_secs(45)));
        assert!(drive.as_mut().poll(&mut cx).is_pending(), "the task writes both, blocked on the first");
        outbox.queue(frame(1)).unwrap();
        outbox.queue(frame(2)).unwrap();
        assert!(outbox.queue(frame(3)).is_err(), "two more fit behind its batch, then full");
    }

    #[tokio::test]
    async fn a_close_wakes_the_task_and_the_first_reason_stays() {
        let (outbox, _client) = outbox_to_a_client_that_does_not_read(2).await;
        let driving = tokio::spawn({
            let outbox = outbox.clone();
            async move { outbox.drive(Duration::from_secs(45)).await }
        });
        tokio::task::yield_now().await;
        outbox.close_without_notice("lagging");
        outbox.close_without_notice("later reasons do not replace the first");
        assert_eq!(driving.await.unwrap(), Driven::Closed(Close { reason: "lagging", going_away: false }));
        assert_eq!(outbox.closed_reason(), Some("lagging"));
    }

    #[tokio::test]
    async fn the_last_frames_before_a_close_pass_a_full_queue_and_nothing_after() {
        let (outbox, _client) = outbox_to_a_client_that_does_not_read(2).await;
        fill(&outbox);
        outbox.push(frame(0)).unwrap();
        assert!(outbox.push(frame(0)).is_err(), "full");
        outbox.close_after("lagging", [frame(1), frame(2)]);
        outbox.close_after("twice", [frame(3)]);
        outbox.push(frame(4)).unwrap();
        assert_eq!(outbox.queued(), 4, "the large frame, 0, then the notice's 1 and 2");
    }

    #[tokio::test]
    async fn a_delivery_goes_out_in_the_transports_framing_and_a_close_with_its_farewell() {
        use crate::protocol::{Outgoing, ServerEvent};
        let (outbox, mut client) = outbox_to_a_client_that_does_not_read(4).await;
        let (framed, skipped) = (Outgoing::new(ServerEvent::shutdown()), Outgoing::new(ServerEvent::welcome("u1")));
        let handle: Arc<dyn Outbound> = outbox.clone();
        handle.deliver(&skipped).unwrap();
        handle.deliver_all(&[&skipped, &framed]).unwrap();
        let expected = framed.ws_frame();
        let header = FrameHeader::text(expected.len());
        let sent = read_exactly(&mut client, header.bytes().len() + expected.len()).await;
        assert_eq!(sent, [header.bytes(), &expected].concat(), "only what the framing framed");
        handle.close("lagging");
        assert_eq!(outbox.queued(), 2, "the farewell's frames wait for the task");
        assert_eq!(outbox.closed_reason(), Some("lagging"));
    }

    #[tokio::test]
    async fn going_away_says_so() {
        let (outbox, _client) = outbox_to_a_client_that_does_not_read(4).await;
        outbox.go_away();
        outbox.close_without_notice("lagging");
        let driven = outbox.drive(Duration::from_secs(45)).await;
        assert_eq!(driven, Driven::Closed(Close { reason: "server shutting down", going_away: true }));
    }

    #[tokio::test]
    async fn frames_after_the_writer_ended_are_dropped() {
        let (outbox, _client) = outbox_to_a_client_that_does_not_read(1).await;
        fill(&outbox);
        assert!(outbox.partly_written());
        outbox.writer_gone();
        outbox.push(frame(1)).unwrap();
        outbox.push(frame(2)).unwrap();
        assert_eq!(outbox.queued(), 1, "only the frame partly on the wire stays, to go out whole");
    }

    #[tokio::test]
    async fn tungstenites_frames_past_the_bound_wait_for_the_socket_to_drain_then_go() {
        use tokio::io::AsyncWriteExt;
        let (outbox, mut client) = outbox_to_a_client_that_does_not_read(2).await;
        fill(&outbox);
        let mut wire = Wire(outbox.clone());
        // Pongs owed to a client that reads nothing queue up to the bound and a few more...
        for _ in 0..(2 + CONTROL_FRAMES - 1) {
            wire.write_all(b"\x8a\x00").await.unwrap();
        }
        let mut over = std::pin::pin!(wire.write_all(b"\x8a\x00"));
        let held = tokio::time::timeout(Duration::from_millis(50), over.as_mut()).await;
        assert!(held.is_err(), "...then tungstenite keeps its own");
        // ...until the client reads: the socket drains and the held write goes.
        let reading =
            tokio::spawn(async move { read_exactly(&mut client, 10 + (1 << 20) + 2 * (2 + CONTROL_FRAMES)).await });
        tokio::time::timeout(Duration::from_secs(5), async {
            over.await.unwrap();
            outbox.flush().await.unwrap();
        })
        .await
        .expect("woken when the socket drains");
        let bytes = reading.await.unwrap();
        assert!(bytes.ends_with(&b"\x8a\x00".repeat(2 + CONTROL_FRAMES)), "every pong, whole, after the frame");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn frames_pushed_from_many_threads_at_once_arrive_whole_and_in_each_pushers_order() {
        use futures::StreamExt;
        use tokio_tungstenite::WebSocketStream;
        use tokio_tungstenite::tungstenite::Message;
        use tokio_tungstenite::tungstenite::protocol::Role;

        const PUSHERS: usize = 4;
        const EACH: usize = 500;
        let (outbox, client) = outbox_to_a_client_that_does_not_read(PUSHERS * EACH).await;
        let driving = tokio::spawn({
            let outbox = outbox.clone();
            async move { outbox.drive(Duration::from_secs(45)).await }
        });
        let pushers: Vec<_> = (0..PUSHERS)
            .map(|pusher| {
                let outbox = outbox.clone();
                std::thread::spawn(move || {
                    for n in 0..EACH {
                        // Sizes vary so some frames split across writes.
                        let frame = format!("{pusher} {n} {}", "x".repeat((n * 37) % 3000));
                        outbox.push(Bytes::from(frame)).unwrap();
                    }
                })
            })
            .collect();
        let mut client = WebSocketStream::from_raw_socket(client, Role::Client, None).await;
        let mut next = [0usize; PUSHERS];
        for _ in 0..PUSHERS * EACH {
            let Some(Ok(Message::Text(text))) = client.next().await else { panic!("a whole text frame") };
            let mut parts = text.as_str().splitn(3, ' ');
            let pusher: usize = parts.next().unwrap().parse().unwrap();
            let n: usize = parts.next().unwrap().parse().unwrap();
            assert_eq!(n, next[pusher], "pusher {pusher}'s frames in order");
            assert_eq!(parts.next().unwrap().len(), (n * 37) % 3000);
            next[pusher] += 1;
        }
        for pusher in pushers {
            pusher.join().unwrap();
        }
        driving.abort();
    }

    #[tokio::test]
    async fn a_peer_that_went_fails_the_drive() {
        let (outbox, client) = outbox_to_a_client_that_does_not_read(4).await;
        drop(client);
        // The first write may still be taken (the peer's reset comes after).
        for _ in 0..100 {
            let _ = outbox.push(frame(0));
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let driven = tokio::time::timeout(Duration::from_secs(5), outbox.drive(Duration::from_secs(45))).await;
        assert_eq!(driven.expect("the failure is seen"), Driven::Failed);
    }
}
