//! Hot paths of every realtime message: decoding a client's `send_message`
//! (from the raw `/ws` frame and from already-parsed Socket.IO data) and encoding
//! the `receive_message` every member gets.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/sample.rs"]
mod sample;

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rtchat::protocol::{ClientEvent, Outgoing, ServerEvent};
use serde_json::{Value, json};

use sample::{ROOM, message as sample_message};

fn send_frame() -> Vec<u8> {
    let content = "The quick brown fox jumps over the lazy dog. ".repeat(2);
    serde_json::to_vec(&json!({
        "event": "send_message",
        "data": {"roomId": ROOM, "content": content, "clientMsgId": "c-42"},
        "ack": 7
    }))
    .unwrap()
}

fn decode(c: &mut Criterion) {
    let mut group = c.benchmark_group("decode");
    group.throughput(Throughput::Elements(1));
    let frame = send_frame();
    group.bench_function("ws frame send_message", |b| {
        b.iter(|| {
            let mut frame: Value = serde_json::from_slice(black_box(&frame)).unwrap();
            let data = frame["data"].take();
            ClientEvent::decode("send_message", data).unwrap()
        })
    });
    let data: Value = serde_json::from_slice::<Value>(&frame).unwrap()["data"].clone();
    group.bench_function("socketio data send_message", |b| {
        b.iter(|| ClientEvent::decode("send_message", black_box(data.clone())).unwrap())
    });
    group.finish();
}

fn encode(c: &mut Criterion) {
    let mut group = c.benchmark_group("encode");
    group.throughput(Throughput::Elements(1));
    let message = sample_message(1234);
    group.bench_function("receive_message event + ws frame", |b| {
        b.iter(|| Outgoing::new(ServerEvent::ReceiveMessage(black_box(&message).clone())).ws_frame())
    });
    group.bench_function("receive_message event + socket.io data", |b| {
        b.iter(|| Outgoing::new(ServerEvent::ReceiveMessage(black_box(&message).clone())).socketio_data().is_some())
    });
    group.finish();
}

criterion_group!(benches, decode, encode);
criterion_main!(benches);
