//! A room's fan-out: one `receive_message` delivered to every subscribed session
//! through the real `/ws` outbound (bounded queue per session, frame encoded
//! once), at several room sizes. The queues are drained between rounds as the
//! sessions' writers would.

use std::collections::HashMap;
use std::hint::black_box;
use std::sync::Arc;

use bytes::Bytes;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use rtchat::actors::outbound::{SessionHandle, SessionId};
use rtchat::actors::room::fanout::fan_out;
use rtchat::domain::views::{MessageView, UserRef};
use rtchat::protocol::{Outgoing, ServerEvent};
use rtchat::realtime::ws::WsOutbound;
use tokio::sync::mpsc;

fn room(size: usize) -> (HashMap<SessionId, SessionHandle>, Vec<mpsc::Receiver<Bytes>>) {
    let mut subscribers = HashMap::new();
    let mut queues = Vec::new();
    for id in 0..size as u64 {
        let (outbound, queue) = WsOutbound::channel(64);
        subscribers.insert(id, SessionHandle::new(id, format!("user-{id}"), Arc::new(outbound)));
        queues.push(queue);
    }
    (subscribers, queues)
}

fn message(seq: i64) -> MessageView {
    let at =
        chrono::NaiveDateTime::parse_from_str("2026-11-25 12:00:00.123", "%Y-%m-%d %H:%M:%S%.f").unwrap_or_default();
    MessageView {
        id: "0192f6c1-5a2b-7c3d-8e4f-000000000001".into(),
        room_id: "0192f6c1-5a2b-7c3d-8e4f-a5b6c7d8e9f0".into(),
        sender_id: "0192f6c1-5a2b-7c3d-8e4f-000000000002".into(),
        seq,
        client_msg_id: None,
        content: "The quick brown fox jumps over the lazy dog. ".repeat(2),
        message_type: "text".into(),
        is_edited: false,
        edited_at: None,
        deleted_at: None,
        delivered_at: Some(at),
        read_at: None,
        created_at: at,
        updated_at: at,
        sender: UserRef {
            id: "0192f6c1-5a2b-7c3d-8e4f-000000000002".into(),
            username: "alice".into(),
            full_name: "Alice Liddell".into(),
        },
    }
}

fn fanout(c: &mut Criterion) {
    let mut group = c.benchmark_group("fan-out receive_message over /ws");
    for size in [10usize, 100, 1000] {
        let (subscribers, mut queues) = room(size);
        group.throughput(Throughput::Elements(size as u64));
        group.bench_with_input(BenchmarkId::from_parameter(size), &size, |b, _| {
            let mut seq = 0;
            b.iter(|| {
                seq += 1;
                let event = Outgoing::new(ServerEvent::ReceiveMessage(message(seq)));
                let outcome = fan_out(&subscribers, black_box(&event), None);
                for queue in &mut queues {
                    while queue.try_recv().is_ok() {}
                }
                outcome
            })
        });
    }
    group.finish();
}

criterion_group!(benches, fanout);
criterion_main!(benches);
