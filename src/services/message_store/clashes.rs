//! A round that hit a duplicate `clientMsgId` is split rather than stored batch
//! by batch: one lookup finds the keys already stored, the batches carrying one
//! (or one that an earlier batch of the round carries) are answered
//! [`StoreError::Duplicate`], and the rest are committed together again. A
//! retry that its room has forgotten (after a restart, or on another node),
//! or a key reused in another room, then costs its round one lookup and one
//! more commit, where every batch of the round used to take a commit of its own.

use std::collections::HashSet;

use super::{Job, StoreError};

/// The senders and client ids of a round's rows that carry one: the lookup's
/// arguments (it matches a superset; [`answer_clashing`] matches the pairs).
pub(super) fn keys(round: &[Job]) -> (Vec<&str>, Vec<&str>) {
    let pairs = round.iter().flat_map(|job| &job.rows).filter_map(|row| {
        let client_msg_id = row.client_msg_id.as_deref()?;
        Some((row.sender_id.as_str(), client_msg_id))
    });
    let (mut senders, mut ids): (Vec<&str>, Vec<&str>) = pairs.unzip();
    senders.sort_unstable();
    senders.dedup();
    ids.sort_unstable();
    ids.dedup();
    (senders, ids)
}

/// Answers the batches that carry a key already stored (`taken`: sender and
/// client id of stored rows) or one an earlier batch of the round carries, and
/// gives back the others, in their order, to be stored together.
pub(super) fn answer_clashing(round: Vec<Job>, taken: &[(String, Option<String>)]) -> Vec<Job> {
    let claimed: HashSet<(&str, &str)> =
        taken.iter().filter_map(|(sender, id)| Some((sender.as_str(), id.as_deref()?))).collect();
    let mut claimed_here: HashSet<(String, String)> = HashSet::new();
    let mut rest = Vec::with_capacity(round.len());
    for job in round {
        let pairs: Vec<(&str, &str)> =
            job.rows.iter().filter_map(|row| Some((row.sender_id.as_str(), row.client_msg_id.as_deref()?))).collect();
        let clashes = pairs
            .iter()
            .any(|pair| claimed.contains(pair) || claimed_here.contains(&(pair.0.to_string(), pair.1.to_string())));
        if clashes {
            let _ = job.reply.send(Err(StoreError::Duplicate));
            continue;
        }
        claimed_here.extend(pairs.iter().map(|(sender, id)| (sender.to_string(), id.to_string())));
        rest.push(job);
    }
    rest
}

#[cfg(test)]
mod tests {
    use tokio::sync::oneshot;

    use super::*;
    use crate::domain::message::{MessageType, NewMessageInput};

    /// A batch of one room: each send is (sender, clientMsgId).
    fn job(
        room: &str,
        sends: &[(&str, Option<&str>)],
    ) -> (Job, oneshot::Receiver<crate::services::message_store::Stored>) {
        let rows = sends
            .iter()
            .map(|(sender, id)| {
                let input = NewMessageInput {
                    content: "hi".into(),
                    message_type: MessageType::Text,
                    client_msg_id: id.map(str::to_string),
                };
                crate::services::messages::new_row(room, sender, &input, crate::db::now())
            })
            .collect();
        let (reply, answer) = oneshot::channel();
        (Job { room_id: room.into(), rows, reply }, answer)
    }

    #[test]
    fn batches_with_a_taken_key_or_one_taken_earlier_in_the_round_are_answered_and_the_rest_kept_in_order() {
        let (retry, mut retry_answer) = job("a", &[("alice", Some("new")), ("alice", Some("k1"))]);
        let (fresh, mut fresh_answer) = job("b", &[("bob", Some("k1")), ("bob", None)]);
        let (reuse, mut reuse_answer) = job("c", &[("carol", Some("c1"))]);
        let (again, mut again_answer) = job("d", &[("carol", Some("c1"))]);
        let (plain, mut plain_answer) = job("e", &[("dave", None)]);
        // alice's k1 is stored; bob's k1 is another sender's key, and so free.
        let taken = vec![("alice".to_string(), Some("k1".to_string())), ("erin".to_string(), None)];

        let rest = answer_clashing(vec![retry, fresh, reuse, again, plain], &taken);

        let rooms: Vec<&str> = rest.iter().map(|job| job.room_id.as_str()).collect();
        assert_eq!(rooms, ["b", "c", "e"]);
        assert!(matches!(retry_answer.try_recv(), Ok(Err(StoreError::Duplicate))));
        assert!(matches!(again_answer.try_recv(), Ok(Err(StoreError::Duplicate))));
        for answer in [&mut fresh_answer, &mut reuse_answer, &mut plain_answer] {
            assert!(answer.try_recv().is_err(), "a batch kept for the round was answered");
        }
    }

    #[test]
    fn the_lookup_asks_for_each_sender_and_key_once() {
        let (first, _a) = job("a", &[("alice", Some("k1")), ("bob", Some("k2")), ("bob", None)]);
        let (second, _b) = job("b", &[("alice", Some("k2")), ("alice", Some("k1"))]);
        let round = vec![first, second];
        let (senders, ids) = keys(&round);
        assert_eq!(senders, ["alice", "bob"]);
        assert_eq!(ids, ["k1", "k2"]);
    }
}
