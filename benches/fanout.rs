//! A room's fan-out: one `receive_message` delivered to every subscribed session
//! through the real `/ws` outbound (frame encoded once; each session's outbox
//! writes it to its socket at once), at several room sizes. Each session is a
//! real loopback TCP connection whose client end is read between rounds, so
//! every delivery is the header, one `writev` and the kernel's work for it.

// A benchmark's setup may stop at its first failure.
#![allow(clippy::expect_used)]

#[path = "support/sample.rs"]
mod sample;

use std::collections::HashMap;
use std::hint::black_box;
use std::io::Read;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use rtchat::actors::outbound::{SessionHandle, SessionId};
use rtchat::actors::room::fanout::fan_out;
use rtchat::protocol::{Outgoing, ServerEvent};
use rtchat::realtime::outbox::Outbox;
use rtchat::realtime::ws::WsFraming;
use sample::message;

/// A room of `size` sessions, and each session's client end (non-blocking).
fn room(
    runtime: &tokio::runtime::Runtime,
    size: usize,
) -> (HashMap<SessionId, SessionHandle>, Vec<std::net::TcpStream>) {
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = listener.local_addr().expect("address");
        let mut subscribers = HashMap::new();
        let mut clients = Vec::new();
        for id in 0..size as u64 {
            let client = tokio::net::TcpStream::connect(address).await.expect("connect");
            let (server, _) = listener.accept().await.expect("accept");
            let outbound = Outbox::new(server, 64, &WsFraming);
            subscribers.insert(id, SessionHandle::new(id, format!("user-{id}"), outbound));
            clients.push(client.into_std().expect("std stream"));
        }
        (subscribers, clients)
    })
}

fn fanout(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let _entered = runtime.enter();
    let mut group = c.benchmark_group("fan-out receive_message over /ws");
    for size in [10usize, 100, 1000] {
        let (subscribers, mut clients) = room(&runtime, size);
        group.throughput(Throughput::Elements(size as u64));
        group.bench_with_input(BenchmarkId::from_parameter(size), &size, |b, _| {
            let mut seq = 0;
            let mut buffer = vec![0u8; 65536];
            b.iter(|| {
                seq += 1;
                let event = Outgoing::new(ServerEvent::ReceiveMessage(message(seq)));
                let outcome = fan_out(&subscribers, black_box(&event), None);
                // The clients read what came, so the sockets never fill.
                for client in &mut clients {
                    while let Ok(read) = client.read(&mut buffer) {
                        if read == 0 {
                            break;
                        }
                    }
                }
                outcome
            })
        });
    }
    group.finish();
}

criterion_group!(benches, fanout);
criterion_main!(benches);
