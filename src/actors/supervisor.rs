//! The root of the actor tree and the session supervisor. Children that fail are
//! logged and counted (and reported on `/health/supervisor`); rooms have their own
//! restarting supervisor.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort, SupervisionEvent};

use super::room_supervisor::{FailureRecord, SupervisorStats};

pub enum TreeMsg {
    Stats { reply: RpcReplyPort<SupervisorStats> },
}

/// Root and SessionSupervisor share this behaviour: hold children, never stop
/// because one of them did, remember failures.
pub struct Overseer {
    pub name: &'static str,
}

pub struct OverseerState {
    restarts_total: u64,
    failures: VecDeque<(String, String, Instant)>,
}

impl Actor for Overseer {
    type Msg = TreeMsg;
    type State = OverseerState;
    type Arguments = ();

    async fn pre_start(&self, _: ActorRef<TreeMsg>, _: ()) -> Result<OverseerState, ActorProcessingErr> {
        Ok(OverseerState { restarts_total: 0, failures: VecDeque::new() })
    }

    async fn handle(
        &self,
        myself: ActorRef<TreeMsg>,
        message: TreeMsg,
        state: &mut OverseerState,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            TreeMsg::Stats { reply } => {
                let minute_ago = Instant::now() - Duration::from_secs(60);
                let _ = reply.send(SupervisorStats {
                    children: myself.get_children().len(),
                    restarts_total: state.restarts_total,
                    restarts_last_minute: state.failures.iter().filter(|(_, _, at)| *at >= minute_ago).count(),
                    failures: state
                        .failures
                        .iter()
                        .map(|(child, reason, at)| FailureRecord {
                            child: child.clone(),
                            reason: reason.clone(),
                            seconds_ago: at.elapsed().as_secs(),
                        })
                        .collect(),
                });
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
            state.restarts_total += 1;
            state.failures.push_back((cell.get_id().to_string(), error.to_string(), Instant::now()));
            if state.failures.len() > 20 {
                state.failures.pop_front();
            }
        }
        Ok(())
    }
}
