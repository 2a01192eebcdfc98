//! A connection's way out: the encoded frames waiting for its task to write
//! them, bounded, and the server's reason when it closes the connection.
//!
//! One lock and the connection task's waker instead of a tokio channel and a
//! watch: a tokio channel allocates a 32-slot block when it is made, which
//! every idle connection kept; this queue holds no buffer while idle (the task
//! takes the whole queue at once, and its buffer goes when the batch is
//! written). A push wakes the task only when it waits: frames pushed while it
//! is writing go out with its next batch, without another wake-up.

use std::collections::VecDeque;
use std::future::poll_fn;
use std::mem;
use std::sync::{Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use bytes::Bytes;

/// The queue is full: the client stopped reading.
#[derive(Debug)]
pub struct Full;

/// Written to by anyone (rooms, the session, the connection itself); waited on
/// by one task, its connection's.
pub struct Outbox {
    state: Mutex<State>,
}

struct State {
    frames: VecDeque<Bytes>,
    capacity: usize,
    closed: Option<Close>,
    /// The writer has ended (the peer went): frames are dropped, not queued.
    writer_gone: bool,
    /// The connection's task, while it waits for frames or a close.
    waiting: Option<Waker>,
}

/// What the connection's task takes at once: every frame queued, and whether to
/// close after them. The task keeps one and hands it to every take: the queue
/// and the batch swap buffers, so a busy connection allocates none.
#[derive(Default)]
pub struct Batch {
    pub frames: VecDeque<Bytes>,
    pub close: Option<Close>,
}

/// Why and how the server closes a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Close {
    pub reason: &'static str,
    /// The server is going away (shutdown), not turning this client away: the
    /// close says so, and clients reconnect (to another node) on their own.
    pub going_away: bool,
}

impl Outbox {
    /// A queue of at most `capacity` frames not yet taken by the writer.
    pub fn new(capacity: usize) -> Self {
        let state = State { frames: VecDeque::new(), capacity, closed: None, writer_gone: false, waiting: None };
        Self { state: Mutex::new(state) }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Queues a frame for the writer; [`Full`] when the client is not reading.
    /// Once the connection is closing, frames are dropped.
    pub fn push(&self, frame: Bytes) -> Result<(), Full> {
        let mut state = self.state();
        // Closing: nothing goes out after the close's own last frames.
        if state.writer_gone || state.closed.is_some() {
            return Ok(());
        }
        if state.frames.len() >= state.capacity {
            return Err(Full);
        }
        state.frames.push_back(frame);
        wake(state);
        Ok(())
    }

    /// Closes the connection once what is queued is written; the first reason stays.
    pub fn close(&self, reason: &'static str) {
        self.close_after(reason, [])
    }

    /// Closes the connection after what is queued and then `last` (a notice
    /// saying why), which is queued past the bound: a client dropped for not
    /// reading is still told, if it ever reads again.
    pub fn close_after(&self, reason: &'static str, last: impl IntoIterator<Item = Bytes>) {
        self.end(Close { reason, going_away: false }, last);
    }

    /// Closes the connection once what is queued is written, as a server that
    /// is going away (shutdown) rather than one that turns the client away.
    pub fn go_away(&self, reason: &'static str) {
        self.end(Close { reason, going_away: true }, []);
    }

    fn end(&self, close: Close, last: impl IntoIterator<Item = Bytes>) {
        let mut state = self.state();
        if state.closed.is_some() {
            return;
        }
        if !state.writer_gone {
            state.frames.extend(last);
        }
        state.closed = Some(close);
        wake(state);
    }

    /// The server's reason, once it has closed the connection.
    pub fn closed_reason(&self) -> Option<&'static str> {
        self.state().closed.map(|close| close.reason)
    }

    /// Waits until the server closes the connection (while a write waits on a
    /// client that is not reading).
    pub async fn closed(&self) {
        poll_fn(|cx| {
            let mut state = self.state();
            if state.closed.is_some() {
                return Poll::Ready(());
            }
            state.wait(cx);
            Poll::Pending
        })
        .await
    }

    /// Waits for frames or a close, then takes every frame queued into `batch`
    /// (written out, so empty), whose buffer the queue keeps in exchange.
    /// Dropping the wait loses nothing.
    pub async fn take(&self, batch: &mut Batch) {
        poll_fn(|cx| {
            let mut state = self.state();
            if !state.frames.is_empty() || state.closed.is_some() {
                batch.frames.clear();
                mem::swap(&mut state.frames, &mut batch.frames);
                batch.close = state.closed;
                return Poll::Ready(());
            }
            state.wait(cx);
            Poll::Pending
        })
        .await
    }

    /// The writer ended: what is queued, and anything pushed later, is dropped.
    pub fn writer_gone(&self) {
        let mut state = self.state();
        state.writer_gone = true;
        state.frames = VecDeque::new();
    }
}

impl State {
    fn wait(&mut self, cx: &Context<'_>) {
        match &self.waiting {
            Some(waker) if waker.will_wake(cx.waker()) => {}
            _ => self.waiting = Some(cx.waker().clone()),
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    impl Outbox {
        async fn taken(&self) -> Batch {
            let mut batch = Batch::default();
            self.take(&mut batch).await;
            batch
        }
    }

    fn frame(n: u8) -> Bytes {
        Bytes::from(vec![n])
    }

    #[tokio::test]
    async fn the_writer_takes_everything_queued_at_once_in_order() {
        let outbox = Outbox::new(4);
        for n in 0..3 {
            outbox.push(frame(n)).unwrap();
        }
        let batch = outbox.taken().await;
        assert_eq!(batch.frames, [frame(0), frame(1), frame(2)]);
        assert!(batch.close.is_none());
    }

    #[tokio::test]
    async fn a_full_queue_refuses_until_the_writer_takes_it() {
        let outbox = Outbox::new(2);
        outbox.push(frame(0)).unwrap();
        outbox.push(frame(1)).unwrap();
        assert!(outbox.push(frame(2)).is_err(), "the client is not reading");
        outbox.taken().await;
        outbox.push(frame(2)).unwrap();
    }

    #[tokio::test]
    async fn a_waiting_writer_wakes_for_a_frame_and_for_a_close() {
        let outbox = std::sync::Arc::new(Outbox::new(2));
        let writer = tokio::spawn({
            let outbox = outbox.clone();
            async move { (outbox.taken().await.frames.len(), outbox.taken().await.close) }
        });
        tokio::task::yield_now().await;
        outbox.push(frame(0)).unwrap();
        tokio::task::yield_now().await;
        outbox.close("lagging");
        outbox.close("later reasons do not replace the first");
        let (frames, close) = writer.await.unwrap();
        assert_eq!((frames, close.map(|c| c.reason)), (1, Some("lagging")));
        outbox.closed().await;
        assert_eq!(outbox.closed_reason(), Some("lagging"));
    }

    #[tokio::test]
    async fn the_last_frames_before_a_close_pass_a_full_queue() {
        let outbox = Outbox::new(1);
        outbox.push(frame(0)).unwrap();
        outbox.close_after("lagging", [frame(1), frame(2)]);
        outbox.close_after("twice", [frame(3)]);
        outbox.push(frame(4)).unwrap();
        let batch = outbox.taken().await;
        assert_eq!(batch.frames, [frame(0), frame(1), frame(2)]);
        assert_eq!(batch.close, Some(Close { reason: "lagging", going_away: false }));
    }

    #[tokio::test]
    async fn going_away_closes_after_what_is_queued_and_says_so() {
        let outbox = Outbox::new(4);
        outbox.push(frame(0)).unwrap();
        outbox.go_away("server shutting down");
        outbox.close("lagging");
        let batch = outbox.taken().await;
        assert_eq!(batch.frames, [frame(0)]);
        assert_eq!(batch.close, Some(Close { reason: "server shutting down", going_away: true }));
    }

    #[tokio::test]
    async fn frames_after_the_writer_ended_are_dropped() {
        let outbox = Outbox::new(1);
        outbox.push(frame(0)).unwrap();
        outbox.writer_gone();
        outbox.push(frame(1)).unwrap();
        outbox.push(frame(2)).unwrap();
        outbox.close("closed");
        assert!(outbox.taken().await.frames.is_empty());
    }

    #[test]
    fn only_a_waiting_task_is_woken_and_once_per_wait() {
        use std::future::Future;
        use std::sync::atomic::{AtomicUsize, Ordering};

        struct Counting(AtomicUsize);
        impl futures::task::ArcWake for Counting {
            fn wake_by_ref(this: &std::sync::Arc<Self>) {
                this.0.fetch_add(1, Ordering::Relaxed);
            }
        }
        let wakes = std::sync::Arc::new(Counting(AtomicUsize::new(0)));
        let waker = futures::task::waker(wakes.clone());
        let mut cx = Context::from_waker(&waker);
        let outbox = Outbox::new(8);
        let mut batch = Batch::default();

        outbox.push(frame(0)).unwrap();
        assert_eq!(wakes.0.load(Ordering::Relaxed), 0, "nobody waits yet");
        assert!(std::pin::pin!(outbox.take(&mut batch)).poll(&mut cx).is_ready());
        assert!(std::pin::pin!(outbox.take(&mut batch)).poll(&mut cx).is_pending(), "now it waits");
        for n in 1..4 {
            outbox.push(frame(n)).unwrap();
        }
        assert_eq!(wakes.0.load(Ordering::Relaxed), 1, "the frames after the first go with the same wake-up");
        assert!(std::pin::pin!(outbox.take(&mut batch)).poll(&mut cx).is_ready());
        assert_eq!(batch.frames, [frame(1), frame(2), frame(3)]);
    }
}
