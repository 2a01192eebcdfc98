//! Live sessions by user, on this node. What ends a login (logout, a password
//! change, a reused refresh token, the access token's expiry) ends its open
//! connections here, at once. It also holds what a user may spend across all of
//! their connections: how many they may open, and their client-event budget
//! (reconnecting does not refill it).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::time::Instant;

use super::outbound::SessionId;
use super::session_inbox::{NoticeReceipt, SessionInbox, SessionMsg};
use crate::auth::{Revocation, RevocationSink};
use crate::error::Error;

/// How often expired sessions are looked for: a session outlives its token by
/// at most this.
const EXPIRY_SWEEP: Duration = Duration::from_secs(1);
const BUDGET_WINDOW: Duration = Duration::from_secs(60);

/// What a user may spend across their connections.
#[derive(Debug, Clone, Copy)]
pub struct UserAllowance {
    pub max_sessions: usize,
    pub events_per_minute: u32,
}

#[derive(Clone)]
pub struct SessionRegistry(Arc<Inner>);

struct Inner {
    allowance: UserAllowance,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    users: HashMap<String, UserSessions>,
    /// Token expiry of every live session, earliest first.
    expiries: BTreeMap<(Instant, SessionId), String>,
    /// Set once the server is shutting down: the receipts of notices still
    /// being handed out (weak: the wait ends when the sessions let theirs go).
    closing: Option<tokio::sync::mpsc::WeakSender<()>>,
}

struct UserSessions {
    sessions: Vec<Live>,
    window_started: Instant,
    window_events: u32,
}

struct Live {
    id: SessionId,
    /// The login (auth session) whose token opened it.
    login: String,
    expires: Instant,
    inbox: SessionInbox,
}

/// Why a session is being ended by the server.
pub fn revoked_error() -> Error {
    Error::InvalidToken("Token has been revoked")
}

pub fn shutting_down_error() -> Error {
    Error::Unavailable("the server is shutting down; connect again to reach another node".into())
}

pub fn expired_error() -> Error {
    Error::InvalidToken("Token has expired")
}

impl SessionRegistry {
    pub fn new(allowance: UserAllowance) -> Self {
        Self(Arc::new(Inner { allowance, state: Mutex::default() }))
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.0.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Whether `user_id` may open one more session (checked before it starts).
    pub fn admit_session(&self, user_id: &str) -> Result<(), Error> {
        let state = self.state();
        if state.closing.is_some() {
            return Err(shutting_down_error());
        }
        let open = state.users.get(user_id).map_or(0, |user| user.sessions.len());
        if open >= self.0.allowance.max_sessions {
            return Err(Error::TooManySessions(self.0.allowance.max_sessions));
        }
        Ok(())
    }

    /// Whether the server is shutting down (see [`Self::announce_shutdown`]).
    pub fn closing(&self) -> bool {
        self.state().closing.is_some()
    }

    /// Records a started session; it ends when `expires_in` has passed.
    pub fn register(&self, user_id: &str, id: SessionId, login: &str, expires_in: Duration, inbox: SessionInbox) {
        let now = Instant::now();
        let expires = now + expires_in;
        let mut state = self.state();
        // Admitted before the shutdown began, started after its notices went
        // out: told now, its receipt awaited with the others while they last.
        if let Some(closing) = &state.closing {
            inbox.cast(SessionMsg::Shutdown(NoticeReceipt::new(closing.upgrade())));
        }
        state.expiries.insert((expires, id), user_id.to_string());
        let user = state.users.entry(user_id.to_string()).or_insert_with(|| UserSessions {
            sessions: Vec::new(),
            window_started: now,
            window_events: 0,
        });
        user.sessions.push(Live { id, login: login.to_string(), expires, inbox });
    }

    pub fn unregister(&self, user_id: &str, id: SessionId) {
        let mut state = self.state();
        let Some(user) = state.users.get_mut(user_id) else { return };
        let Some(index) = user.sessions.iter().position(|live| live.id == id) else { return };
        let live = user.sessions.swap_remove(index);
        // A user's event budget outlives their sessions until its window ends, so
        // that reconnecting does not refill it ([`Self::forget_idle_users`]).
        if user.sessions.is_empty() && user.window_started.elapsed() >= BUDGET_WINDOW {
            state.users.remove(user_id);
        }
        state.expiries.remove(&(live.expires, id));
    }

    /// Counts one client event against the user's budget (every connection of
    /// theirs together).
    pub fn admit_event(&self, user_id: &str) -> Result<(), Error> {
        let now = Instant::now();
        let limit = self.0.allowance.events_per_minute;
        let mut state = self.state();
        let Some(user) = state.users.get_mut(user_id) else { return Ok(()) };
        if now.duration_since(user.window_started) >= BUDGET_WINDOW {
            user.window_started = now;
            user.window_events = 0;
        }
        user.window_events += 1;
        if user.window_events > limit {
            let left = BUDGET_WINDOW.saturating_sub(now.duration_since(user.window_started));
            return Err(Error::RateLimited { retry_after_secs: left.as_secs().max(1) });
        }
        Ok(())
    }

    /// Ends the sessions of revoked logins; returns how many.
    pub fn end_revoked(&self, revocation: &Revocation) -> usize {
        let state = self.state();
        let Some(user) = state.users.get(revocation.user_id()) else { return 0 };
        let mut ended = 0;
        for live in user.sessions.iter().filter(|live| revocation.covers(&live.login)) {
            live.inbox.cast(SessionMsg::End { error: revoked_error(), reason: "token revoked" });
            ended += 1;
        }
        ended
    }

    /// Ends every session whose token has expired by now; returns how many.
    pub fn end_expired(&self) -> usize {
        let now = Instant::now();
        let mut state = self.state();
        let mut ended = 0;
        while let Some(entry) = state.expiries.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let ((_, id), user_id) = entry.remove_entry();
            let live = state.users.get(&user_id).and_then(|u| u.sessions.iter().find(|l| l.id == id));
            if let Some(live) = live {
                live.inbox.cast(SessionMsg::End { error: expired_error(), reason: "token expired" });
                ended += 1;
            }
        }
        ended
    }

    /// Drops users with no session whose budget window is over.
    fn forget_idle_users(&self) {
        self.state().users.retain(|_, user| !user.sessions.is_empty() || user.window_started.elapsed() < BUDGET_WINDOW);
    }

    /// Looks for expired sessions every [`EXPIRY_SWEEP`] (and forgets idle users
    /// once a window) until the registry is dropped.
    pub fn spawn_expiry_sweeper(&self) -> tokio::task::JoinHandle<()> {
        let registry = Arc::downgrade(&self.0);
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(EXPIRY_SWEEP);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut last_forget = Instant::now();
            loop {
                ticks.tick().await;
                let Some(inner) = registry.upgrade() else { break };
                let registry = SessionRegistry(inner);
                registry.end_expired();
                if last_forget.elapsed() >= BUDGET_WINDOW {
                    registry.forget_idle_users();
                    last_forget = Instant::now();
                }
            }
        })
    }

    /// Tells every session on this node that the server is going away, and
    /// refuses new ones from now on. The future ends once every session has
    /// handed its notice to its transport.
    pub fn announce_shutdown(&self) -> impl Future<Output = ()> + use<> {
        let (receipts, mut all_let_go) = tokio::sync::mpsc::channel::<()>(1);
        let mut state = self.state();
        state.closing = Some(receipts.downgrade());
        for live in state.users.values().flat_map(|user| user.sessions.iter()) {
            live.inbox.cast(SessionMsg::Shutdown(NoticeReceipt::new(Some(receipts.clone()))));
        }
        drop(state);
        drop(receipts);
        async move {
            // Nothing is ever sent: `None` once the last receipt is dropped.
            let _ = all_let_go.recv().await;
        }
    }

    /// Stops every session still open on this node: the end of a shutdown,
    /// when socketioxide's `io.close()` has closed transports without telling
    /// the sessions on them. Each leaves its rooms and ends its presence.
    pub fn stop_all(&self) {
        for live in self.state().users.values().flat_map(|user| user.sessions.iter()) {
            live.inbox.stop();
        }
    }

    /// Sessions open on this node (tests, health).
    pub fn sessions(&self) -> usize {
        self.state().users.values().map(|u| u.sessions.len()).sum()
    }
}

impl RevocationSink for SessionRegistry {
    fn revoked(&self, revocation: Revocation) {
        let ended = self.end_revoked(&revocation);
        if ended > 0 {
            tracing::info!(user = revocation.user_id(), sessions = ended, "revoked login: open sessions ended");
        }
    }
}

#[cfg(test)]
mod tests {
    use futures::FutureExt;

    use super::*;
    use crate::actors::session_inbox::{self as inbox, Mailbox};

    /// Stands in for a Session: what it is told to end with.
    struct Ended(Mailbox);

    impl Ended {
        async fn recv(&mut self) -> String {
            loop {
                if let Some(SessionMsg::End { error, .. }) = self.0.next().await {
                    return error.to_string();
                }
            }
        }

        fn try_recv(&mut self) -> Result<String, ()> {
            match self.0.next().now_or_never() {
                Some(Some(SessionMsg::End { error, .. })) => Ok(error.to_string()),
                _ => Err(()),
            }
        }
    }

    async fn probe() -> (SessionInbox, Ended) {
        let (inbox, mailbox) = inbox::channel();
        (inbox, Ended(mailbox))
    }

    fn registry() -> SessionRegistry {
        SessionRegistry::new(UserAllowance { max_sessions: 2, events_per_minute: 3 })
    }

    const DAY: Duration = Duration::from_secs(86_400);

    #[tokio::test]
    async fn a_revoked_login_ends_its_sessions_and_no_others() {
        let registry = registry();
        let (phone, mut phone_ended) = probe().await;
        let (laptop, mut laptop_ended) = probe().await;
        registry.register("alice", 1, "login-phone", DAY, phone);
        registry.register("alice", 2, "login-laptop", DAY, laptop);

        let logout = Revocation::Login { user_id: "alice".into(), session_id: "login-phone".into() };
        assert_eq!(registry.end_revoked(&logout), 1);
        assert_eq!(phone_ended.recv().await, revoked_error().to_string());
        assert!(laptop_ended.try_recv().is_err(), "the other login stays");

        let password_changed =
            Revocation::OtherLogins { user_id: "alice".into(), keep_session_id: "login-phone".into() };
        assert_eq!(registry.end_revoked(&password_changed), 1);
        assert_eq!(laptop_ended.recv().await, revoked_error().to_string());
        let someone_else = Revocation::Login { user_id: "bob".into(), session_id: "login-phone".into() };
        assert_eq!(registry.end_revoked(&someone_else), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_session_ends_when_its_token_expires() {
        let registry = registry();
        let sweeper = registry.spawn_expiry_sweeper();
        let (early, mut early_ended) = probe().await;
        let (late, mut late_ended) = probe().await;
        registry.register("alice", 1, "a", Duration::from_secs(30), early);
        registry.register("bob", 2, "b", Duration::from_secs(90), late);

        tokio::time::sleep(Duration::from_secs(29)).await;
        assert!(early_ended.try_recv().is_err(), "not before its expiry");
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert_eq!(early_ended.recv().await, expired_error().to_string());
        assert!(late_ended.try_recv().is_err());
        tokio::time::sleep(Duration::from_secs(60)).await;
        assert_eq!(late_ended.recv().await, expired_error().to_string());
        sweeper.abort();
    }

    #[tokio::test]
    async fn stopping_all_stops_every_session_of_every_user() {
        let registry = registry();
        let (phone, mut phone_mail) = probe().await;
        let (laptop, mut laptop_mail) = probe().await;
        let (bobs, mut bobs_mail) = probe().await;
        registry.register("alice", 1, "a", DAY, phone);
        registry.register("alice", 2, "b", DAY, laptop);
        registry.register("bob", 3, "c", DAY, bobs);
        registry.stop_all();
        for mail in [&mut phone_mail, &mut laptop_mail, &mut bobs_mail] {
            assert!(mail.0.next().await.is_none(), "the session's task ends");
        }
    }

    #[tokio::test]
    async fn sessions_per_user_are_capped() {
        let registry = registry();
        registry.admit_session("alice").unwrap();
        registry.register("alice", 1, "a", DAY, probe().await.0);
        registry.register("alice", 2, "a", DAY, probe().await.0);
        assert!(matches!(registry.admit_session("alice"), Err(Error::TooManySessions(2))));
        registry.admit_session("bob").unwrap();
        registry.unregister("alice", 1);
        registry.admit_session("alice").unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn the_event_budget_is_per_user_and_survives_reconnecting() {
        let registry = registry();
        registry.register("alice", 1, "a", DAY, probe().await.0);
        registry.register("alice", 2, "a", DAY, probe().await.0);
        registry.admit_event("alice").unwrap();
        registry.admit_event("alice").unwrap();
        registry.admit_event("alice").unwrap();
        assert!(registry.admit_event("alice").is_err(), "both connections spend one budget");
        registry.unregister("alice", 1);
        registry.unregister("alice", 2);
        registry.register("alice", 3, "a", DAY, probe().await.0);
        assert!(registry.admit_event("alice").is_err(), "a new connection does not refill it");
        tokio::time::sleep(BUDGET_WINDOW).await;
        registry.admit_event("alice").unwrap();
    }

    /// A session's shutdown notice, once it is told one.
    fn shutdown_told(mailbox: &mut Mailbox) -> Option<NoticeReceipt> {
        loop {
            match mailbox.next().now_or_never() {
                Some(Some(SessionMsg::Shutdown(receipt))) => return Some(receipt),
                Some(Some(_)) => continue,
                _ => return None,
            }
        }
    }

    #[tokio::test]
    async fn shutdown_tells_every_session_refuses_new_ones_and_ends_once_every_notice_is_handed_over() {
        let registry = registry();
        let (phone, mut phone_mail) = probe().await;
        let (desk, mut desk_mail) = probe().await;
        registry.register("alice", 1, "a", DAY, phone);
        registry.register("bob", 2, "b", DAY, desk);
        registry.admit_session("carol").unwrap();

        let mut handed_over = Box::pin(registry.announce_shutdown());
        assert_eq!(
            registry.admit_session("carol").unwrap_err().to_string(),
            shutting_down_error().to_string(),
            "no new sessions once the shutdown began"
        );
        let phone_receipt = shutdown_told(&mut phone_mail.0).expect("alice's session is told");
        let desk_receipt = shutdown_told(&mut desk_mail.0).expect("bob's session is told");
        // Admitted before, started after the notices went out: told too.
        let (late, mut late_mail) = probe().await;
        registry.register("carol", 3, "c", DAY, late);
        let late_receipt = shutdown_told(&mut late_mail.0).expect("a session started late is told");

        assert!((&mut handed_over).now_or_never().is_none(), "three notices still held");
        drop(phone_receipt);
        drop(late_receipt);
        assert!((&mut handed_over).now_or_never().is_none(), "bob's notice still held");
        drop(desk_receipt);
        assert!(handed_over.now_or_never().is_some(), "every notice handed over");
    }
}
