//! `Sessions`: the handle transports use to start a connected client's Session
//! actor, and to tell every session the server is going away.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use ractor::ActorRef;

use super::outbound::{Outbound, SessionHandle, SessionId};
use super::registry::SessionRegistry;
use super::session::{self, SessionArgs, SessionInbox, SessionServices};
use super::supervisor::TreeMsg;
use crate::auth::AuthUser;
use crate::error::Error;

#[derive(Clone)]
pub struct Sessions(Arc<SessionsInner>);

struct SessionsInner {
    supervisor: ActorRef<TreeMsg>,
    services: SessionServices,
    next_id: AtomicU64,
}

impl Sessions {
    pub fn new(supervisor: ActorRef<TreeMsg>, services: SessionServices) -> Self {
        Self(Arc::new(SessionsInner { supervisor, services, next_id: AtomicU64::new(1) }))
    }

    /// Who holds each user's live sessions (and ends them when revoked).
    pub fn registry(&self) -> &SessionRegistry {
        &self.0.services.registry
    }

    /// Whether the user may open another session (before the transport accepts it).
    pub fn admit(&self, user: &AuthUser) -> Result<(), Error> {
        self.0.services.registry.admit_session(&user.id)
    }

    /// Starts a session actor for a connected client.
    pub fn start(
        &self,
        transport: &'static str,
        user: AuthUser,
        outbound: Arc<dyn Outbound>,
    ) -> Result<SessionInbox, Error> {
        self.admit(&user)?;
        let id: SessionId = self.0.next_id.fetch_add(1, Ordering::Relaxed);
        let handle = SessionHandle::new(id, user.id.clone(), outbound);
        let supervisor = self.0.supervisor.clone();
        Ok(session::spawn(SessionArgs { transport, services: self.0.services.clone(), user, handle, supervisor }))
    }

    /// Tells every connected client the server is going away (they reconnect to
    /// another node and recover with offsets/sync). New sessions are refused
    /// from now on. The future ends once every notice is with its transport.
    pub fn announce_shutdown(&self) -> impl Future<Output = ()> + use<> {
        self.0.services.registry.announce_shutdown()
    }

    /// Whether the shutdown has begun (new sessions are refused).
    pub fn shutting_down(&self) -> bool {
        self.0.services.registry.closing()
    }

    /// Stops every session still open (after the transports were closed).
    pub fn stop_all(&self) {
        self.0.services.registry.stop_all();
    }
}
