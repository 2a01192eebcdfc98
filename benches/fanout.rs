//! A room's fan-out: one `receive_message` delivered to every subscribed session
//! through the real `/ws` outbound (bounded queue per session, frame encoded
//! once), at several room sizes. The queues are drained between rounds as the
//! sessions' writers would.

#[path = "support/sample.rs"]
mod sample;

use std::collections::HashMap;
use std::hint::black_box;
use std::sync::Arc;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use futures::FutureExt;
use rtchat::actors::outbound::{SessionHandle, SessionId};
use rtchat::actors::room::fanout::fan_out;
use rtchat::protocol::{Outgoing, ServerEvent};
use rtchat::realtime::outbox::Batch;
use rtchat::realtime::ws::WsOutbound;
use sample::message;

fn room(size: usize) -> (HashMap<SessionId, SessionHandle>, Vec<Arc<WsOutbound>>) {
    let mut subscribers = HashMap::new();
    let mut queues = Vec::new();
    for id in 0..size as u64 {
        let outbound = Arc::new(WsOutbound::new(64));
        subscribers.insert(id, SessionHandle::new(id, format!("user-{id}"), outbound.clone()));
        queues.push(outbound);
    }
    (subscribers, queues)
}

fn fanout(c: &mut Criterion) {
    let mut group = c.benchmark_group("fan-out receive_message over /ws");
    for size in [10usize, 100, 1000] {
        let (subscribers, queues) = room(size);
        group.throughput(Throughput::Elements(size as u64));
        group.bench_with_input(BenchmarkId::from_parameter(size), &size, |b, _| {
            let mut seq = 0;
            let mut batch = Batch::default();
            b.iter(|| {
                seq += 1;
                let event = Outgoing::new(ServerEvent::ReceiveMessage(message(seq)));
                let outcome = fan_out(&subscribers, black_box(&event), None);
                for queue in &queues {
                    black_box(queue.outbox().take(&mut batch).now_or_never());
                    batch.frames.clear();
                }
                outcome
            })
        });
    }
    group.finish();
}

criterion_group!(benches, fanout);
criterion_main!(benches);
