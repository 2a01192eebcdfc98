//! How an actor answers a request without the caller blocking on it: the caller
//! hands over a [`Reply`], which either forwards the outcome to a waiting task
//! (REST) or acts on it at once (a realtime session acks its client from it).
//! A reply dropped unanswered (its actor failed mid-request) still answers, with
//! a retryable error: no request is ever left hanging.

use tokio::sync::oneshot;

use crate::error::Error;

type Respond<T> = Box<dyn FnOnce(Result<T, Error>) + Send>;

pub struct Reply<T: 'static>(Option<Respond<T>>);

impl<T: Send + 'static> Reply<T> {
    pub fn new(respond: impl FnOnce(Result<T, Error>) + Send + 'static) -> Self {
        Self(Some(Box::new(respond)))
    }

    /// A reply whose outcome arrives on the returned receiver.
    pub fn channel() -> (Self, oneshot::Receiver<Result<T, Error>>) {
        let (sender, receiver) = oneshot::channel();
        (Self::new(move |outcome| drop(sender.send(outcome))), receiver)
    }

    pub fn send(mut self, outcome: Result<T, Error>) {
        if let Some(respond) = self.0.take() {
            respond(outcome);
        }
    }

    /// The same answer, turned into another type on the way.
    pub fn map<U: Send + 'static>(self, convert: impl FnOnce(U) -> T + Send + 'static) -> Reply<U> {
        Reply::new(move |outcome: Result<U, Error>| self.send(outcome.map(convert)))
    }
}

impl<T: 'static> Drop for Reply<T> {
    fn drop(&mut self) {
        if let Some(respond) = self.0.take() {
            respond(Err(Error::Unavailable("the room restarted during the request; retry it".into())));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_dropped_reply_still_answers() {
        let (reply, answer) = Reply::<u32>::channel();
        drop(reply);
        assert_eq!(answer.await.unwrap().unwrap_err().code(), "UNEXPECTED_ERROR");

        let (reply, answer) = Reply::<String>::channel();
        reply.map(|n: u32| n.to_string()).send(Ok(7));
        assert_eq!(answer.await.unwrap().unwrap(), "7");
    }
}
