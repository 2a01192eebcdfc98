//! The root of the actor tree and the session supervisor. Children that fail are
//! logged and counted (and reported on `/health/supervisor`); rooms have their own
//! restarting supervisor.

use std::any::Any;
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort, SupervisionEvent};

use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SupervisorStats {
    pub children: usize,
    pub restarts_total: u64,
    pub restarts_last_minute: usize,
    pub failures: Vec<FailureRecord>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FailureRecord {
    pub child: String,
    pub reason: String,
    pub seconds_ago: u64,
}

/// A supervisor's memory of its children's failures: a total and the last few.
#[derive(Default)]
pub struct FailureLog {
    restarts_total: u64,
    recent: VecDeque<(String, String, Instant)>,
}

const RECENT_FAILURES: usize = 20;

impl FailureLog {
    pub fn record(&mut self, child: String, reason: String) {
        self.restarts_total += 1;
        self.recent.push_back((child, reason, Instant::now()));
        if self.recent.len() > RECENT_FAILURES {
            self.recent.pop_front();
        }
    }

    pub fn stats(&self, children: usize) -> SupervisorStats {
        let minute_ago = Instant::now() - Duration::from_secs(60);
        SupervisorStats {
            children,
            restarts_total: self.restarts_total,
            restarts_last_minute: self.recent.iter().filter(|(_, _, at)| *at >= minute_ago).count(),
            failures: self
                .recent
                .iter()
                .map(|(child, reason, at)| FailureRecord {
                    child: child.clone(),
                    reason: reason.clone(),
                    seconds_ago: at.elapsed().as_secs(),
                })
                .collect(),
        }
    }
}

impl SupervisorStats {
    /// What a supervisor that does not answer shows.
    pub fn empty() -> Self {
        Self { children: 0, restarts_total: 0, restarts_last_minute: 0, failures: Vec::new() }
    }
}

pub enum TreeMsg {
    Stats {
        reply: RpcReplyPort<SupervisorStats>,
    },
    /// A child that is not a ractor actor (a session) failed.
    ChildFailed {
        child: String,
        reason: String,
    },
}

/// How many children a supervisor has, when they are not ractor actors.
pub type ChildCount = Arc<dyn Fn() -> usize + Send + Sync>;

/// Root and SessionSupervisor share this behaviour: hold children, never stop
/// because one of them did, remember failures.
pub struct Overseer {
    pub name: &'static str,
    /// Counts the children that are not linked ractor actors (sessions run as
    /// plain tasks and report their failures with [`TreeMsg::ChildFailed`]).
    pub children: Option<ChildCount>,
}

/// What a caught panic says, for the failure log.
pub fn panic_reason(panic: &(dyn Any + Send)) -> String {
    match (panic.downcast_ref::<&str>(), panic.downcast_ref::<String>()) {
        (Some(text), _) => (*text).to_string(),
        (None, Some(text)) => text.clone(),
        (None, None) => "panicked".to_string(),
    }
}

pub struct OverseerState {
    failures: FailureLog,
}

impl Actor for Overseer {
    type Msg = TreeMsg;
    type State = OverseerState;
    type Arguments = ();

    async fn pre_start(&self, _: ActorRef<TreeMsg>, _: ()) -> Result<OverseerState, ActorProcessingErr> {
        Ok(OverseerState { failures: FailureLog::default() })
    }

    async fn handle(
        &self,
        myself: ActorRef<TreeMsg>,
        message: TreeMsg,
        state: &mut OverseerState,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            TreeMsg::Stats { reply } => {
                let children = self.children.as_ref().map_or_else(|| myself.get_children().len(), |count| count());
                let _ = reply.send(state.failures.stats(children));
            }
            TreeMsg::ChildFailed { child, reason } => state.failures.record(child, reason),
        }
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        _: ActorRef<TreeMsg>,
        event: SupervisionEvent,
        state: &mut OverseerState,
    ) -> Result<(), ActorProcessingErr> {
        if let SupervisionEvent::ActorFailed(cell, error) = event {
            tracing::error!(supervisor = self.name, child = %cell.get_id(), %error, "child actor failed");
            state.failures.record(cell.get_id().to_string(), error.to_string());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use ractor::rpc::CallResult;

    use super::*;

    async fn stats(overseer: &ActorRef<TreeMsg>) -> SupervisorStats {
        match overseer.call(|reply| TreeMsg::Stats { reply }, Some(Duration::from_secs(2))).await.unwrap() {
            CallResult::Success(stats) => stats,
            _ => panic!("no stats"),
        }
    }

    #[tokio::test]
    async fn a_supervisor_of_tasks_counts_them_and_records_their_failures() {
        let live = Arc::new(std::sync::atomic::AtomicUsize::new(3));
        let count = live.clone();
        let children: ChildCount = Arc::new(move || count.load(std::sync::atomic::Ordering::Relaxed));
        let (overseer, _) =
            Actor::spawn(None, Overseer { name: "sessions", children: Some(children) }, ()).await.unwrap();
        assert_eq!(stats(&overseer).await.children, 3);

        let panic = std::panic::catch_unwind(|| panic!("session 7 broke")).unwrap_err();
        let reason = panic_reason(panic.as_ref());
        overseer.cast(TreeMsg::ChildFailed { child: "session 7".into(), reason }).unwrap();
        live.store(2, std::sync::atomic::Ordering::Relaxed);
        let after = stats(&overseer).await;
        assert_eq!((after.children, after.restarts_total), (2, 1));
        assert_eq!(
            (after.failures[0].child.as_str(), after.failures[0].reason.as_str()),
            ("session 7", "session 7 broke")
        );
        overseer.stop(None);
    }
}
