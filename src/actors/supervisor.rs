//! The root of the actor tree and the session supervisor. Children that fail are
//! logged and counted (and reported on `/health/supervisor`); rooms have their own
//! restarting supervisor.

use std::collections::VecDeque;
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
    Stats { reply: RpcReplyPort<SupervisorStats> },
}

/// Root and SessionSupervisor share this behaviour: hold children, never stop
/// because one of them did, remember failures.
pub struct Overseer {
    pub name: &'static str,
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
                let _ = reply.send(state.failures.stats(myself.get_children().len()));
            }
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
