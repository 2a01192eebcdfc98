//! What a load test does, from a TOML file (`--scenario`) with flags on top.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    /// Socket.IO v4 over its websocket transport (what socket.io-client uses after the upgrade).
    Socketio,
    /// Socket.IO v4 over Engine.IO's HTTP long-polling (what browsers start with;
    /// all they get behind a proxy that refuses websockets). No upgrade.
    Polling,
    /// rtchat's plain WebSocket endpoint, `/ws`.
    Ws,
}

/// A complete scenario. Every field has a default, so a TOML file names only what it changes.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Scenario {
    /// The server's base URL (http://); several, comma-separated (the nodes of
    /// one cluster), spread the sessions over them in turn.
    pub url: String,
    pub transport: Transport,
    /// Concurrent sessions, one per user of the fixture.
    pub users: usize,
    /// Skip this many users of the fixture (to split a run over several processes).
    pub first_user: usize,
    /// Rooms and members per room; used when a fixture has to be made.
    pub rooms: usize,
    pub members_per_room: usize,
    /// Members of each room that send (the first ones of its member list).
    pub senders_per_room: usize,
    /// Messages per second per sender and room.
    pub rate: f64,
    /// Content length of each message in bytes (at least the marker, ~40 bytes).
    pub message_size: usize,
    /// Seconds of sending (or of holding the connections, in idle mode).
    pub duration_secs: f64,
    /// Seconds over which the connections are opened, evenly spaced.
    pub ramp_up_secs: f64,
    /// Once everyone has joined, sending waits (at most this many seconds) until
    /// no event has arrived for 250 ms: the join announcements (a room of 1,000
    /// joining is ~1,000,000 presence frames, `joined` and `online`) are
    /// delivered before the measured window opens. A server that stalls that
    /// long mid-storm opens it early. 0 sends at once.
    pub settle_secs: f64,
    /// Seconds to wait after the last send for acks and deliveries still on their way.
    pub drain_secs: f64,
    /// Hard stop for the whole run, in seconds; 0 means ramp-up + settle + duration + drain + 60.
    pub deadline_secs: f64,
    /// Connect and join only: measure how many idle sessions the server holds.
    pub idle: bool,
    /// Whether the server answers acks (rtchat does; the seed application does not).
    pub acks: bool,
    /// Whether each send carries a `clientMsgId`, as the web client's do (unique
    /// per run, so runs against one database do not repeat each other's).
    pub client_msg_ids: bool,
    /// Sends a sender may have waiting for their ack before it skips a beat.
    pub max_in_flight: usize,
    /// Handshakes in progress at once.
    pub connect_concurrency: usize,
    /// Local addresses to connect from, in turn (each gives ~28k ephemeral ports).
    pub source_addrs: Vec<IpAddr>,
    /// The fixture file: read if it exists, otherwise made through the REST API and written.
    pub fixture: PathBuf,
    /// Where the JSON report goes (besides the table on stdout).
    pub report: Option<PathBuf>,
    /// Where the per-second time series goes (JSON lines).
    pub series: Option<PathBuf>,
    /// The server's process id, to report its RSS per session (same host only).
    pub server_pid: Option<u32>,
    /// Accept any TLS certificate (https:// servers with a self-signed one).
    pub insecure: bool,
}

impl Default for Scenario {
    fn default() -> Self {
        Self {
            url: "http://127.0.0.1:8080".into(),
            transport: Transport::Socketio,
            users: 100,
            first_user: 0,
            rooms: 10,
            members_per_room: 10,
            senders_per_room: 1,
            rate: 1.0,
            message_size: 64,
            duration_secs: 10.0,
            ramp_up_secs: 2.0,
            settle_secs: 30.0,
            drain_secs: 10.0,
            deadline_secs: 0.0,
            idle: false,
            acks: true,
            client_msg_ids: false,
            max_in_flight: 64,
            connect_concurrency: 256,
            source_addrs: Vec::new(),
            fixture: PathBuf::from("loadtest-fixture.json"),
            report: None,
            series: None,
            server_pid: None,
            insecure: false,
        }
    }
}

impl Transport {
    /// Speaks Socket.IO (over either Engine.IO transport).
    pub fn is_socketio(self) -> bool {
        matches!(self, Self::Socketio | Self::Polling)
    }
}

impl Scenario {
    pub fn from_toml_file(path: &std::path::Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    pub fn validate(&self) -> Result<(), String> {
        // The simulated clients speak plain TCP: point them at the server's own
        // listener, not at a TLS terminator in front of it.
        let web = |url: &&str| url.starts_with("http://") || url.starts_with("https://");
        if let Some(bad) = self.urls().into_iter().find(|url| !web(url)) {
            return Err(format!("url must start with http:// or https://, got {bad}"));
        }
        if self.users == 0 {
            return Err("users must be at least 1".into());
        }
        if self.members_per_room == 0 || self.rooms == 0 {
            return Err("rooms and members_per_room must be at least 1".into());
        }
        if self.senders_per_room > self.members_per_room {
            return Err("senders_per_room cannot exceed members_per_room".into());
        }
        let finite = |v: f64| v.is_finite() && v >= 0.0;
        let durations =
            [self.rate, self.duration_secs, self.ramp_up_secs, self.settle_secs, self.drain_secs, self.deadline_secs];
        if !durations.into_iter().all(finite) {
            return Err("rate and the durations must be finite and not negative".into());
        }
        if self.max_in_flight == 0 || self.connect_concurrency == 0 {
            return Err("max_in_flight and connect_concurrency must be at least 1".into());
        }
        Ok(())
    }

    pub fn deadline(&self) -> Duration {
        let secs = if self.deadline_secs > 0.0 {
            self.deadline_secs
        } else {
            self.ramp_up_secs + self.settle_secs + self.duration_secs + self.drain_secs + 60.0
        };
        Duration::from_secs_f64(secs)
    }

    /// Every server URL given (one, or the nodes of a cluster).
    pub fn urls(&self) -> Vec<&str> {
        self.url.split(',').map(str::trim).filter(|url| !url.is_empty()).collect()
    }

    /// The first server: fixtures are made through it.
    pub fn first_url(&self) -> &str {
        self.urls().first().copied().unwrap_or(self.url.as_str())
    }

    /// The websocket URL of the chosen transport on one server.
    pub fn socket_url(&self, url: &str) -> String {
        let base = url.trim_end_matches('/').replacen("http", "ws", 1);
        match self.transport {
            Transport::Socketio => format!("{base}/socket.io/?EIO=4&transport=websocket"),
            Transport::Polling => format!("{}/socket.io/?EIO=4&transport=polling", url.trim_end_matches('/')),
            Transport::Ws => format!("{base}/ws"),
        }
    }
}

/// Flags of `rtchat loadtest run`; each one given overrides the scenario file.
#[derive(Debug, Args, Default)]
pub struct ScenarioFlags {
    /// A TOML scenario file (keys as the flags, with underscores); flags given override it.
    #[arg(long)]
    pub scenario: Option<PathBuf>,
    /// The server's base URL, http:// or https:// [default: http://127.0.0.1:8080]; several,
    /// comma-separated, spread the sessions over the nodes of a cluster in turn.
    #[arg(long)]
    pub url: Option<String>,
    /// How sessions connect [default: socketio]: `socketio` (Engine.IO 4 over
    /// websocket), `polling` (Engine.IO 4 long-polling) or `ws` (rtchat's /ws).
    #[arg(long, value_enum)]
    pub transport: Option<Transport>,
    /// Concurrent sessions, one per fixture user [default: 100].
    #[arg(long)]
    pub users: Option<usize>,
    /// Skip this many fixture users, to split one run over several processes [default: 0].
    #[arg(long)]
    pub first_user: Option<usize>,
    /// Rooms, when a fixture has to be made [default: 10].
    #[arg(long)]
    pub rooms: Option<usize>,
    /// Members per room, when a fixture has to be made [default: 10].
    #[arg(long)]
    pub members_per_room: Option<usize>,
    /// Members of each room that send [default: 1].
    #[arg(long)]
    pub senders_per_room: Option<usize>,
    /// Messages per second per sender and room [default: 1].
    #[arg(long)]
    pub rate: Option<f64>,
    /// Bytes of content per message, at least the ~40-byte marker [default: 64].
    #[arg(long)]
    pub message_size: Option<usize>,
    /// Seconds of sending, or of holding the connections with --idle [default: 10].
    #[arg(long = "duration")]
    pub duration_secs: Option<f64>,
    /// Seconds over which the connections are opened, evenly spaced [default: 2].
    #[arg(long = "ramp-up")]
    pub ramp_up_secs: Option<f64>,
    /// Once all have joined, seconds to wait at most for the join announcements
    /// to be delivered (no event for 250 ms) before sending; 0 sends at once [default: 30].
    #[arg(long = "settle")]
    pub settle_secs: Option<f64>,
    /// Seconds to wait after the last send for acks and deliveries on their way [default: 10].
    #[arg(long = "drain")]
    pub drain_secs: Option<f64>,
    /// Seconds after which the whole run stops whatever happens [default: 0 =
    /// ramp-up + settle + duration + drain + 60].
    #[arg(long = "deadline")]
    pub deadline_secs: Option<f64>,
    /// Connect and join only, no messages: how many idle sessions the server holds.
    #[arg(long)]
    pub idle: bool,
    /// The server answers no acks (the seed application): sends count as acked when sent.
    #[arg(long)]
    pub no_acks: bool,
    /// Each send carries a `clientMsgId` (idempotent sends, as the web client makes them).
    #[arg(long)]
    pub client_msg_ids: bool,
    /// Sends one session may have waiting for their ack before it skips a beat [default: 64].
    #[arg(long)]
    pub max_in_flight: Option<usize>,
    /// Handshakes in progress at once [default: 256].
    #[arg(long)]
    pub connect_concurrency: Option<usize>,
    /// Local source addresses, comma-separated (e.g. 127.0.0.1,127.0.0.2) or a count
    /// `N` meaning 127.0.0.1 ..= 127.0.0.N; each gives ~28k ports [default: the system's choice].
    #[arg(long)]
    pub source_addrs: Option<String>,
    /// The fixture file: read if it exists, else made through the REST API and
    /// kept [default: loadtest-fixture.json].
    #[arg(long)]
    pub fixture: Option<PathBuf>,
    /// Also write the JSON report to this file (for `merge`) [default: none].
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// Write one JSON line per second of the run to this file [default: none].
    #[arg(long)]
    pub series: Option<PathBuf>,
    /// The server's process id on this host, to report its RSS per session and
    /// CPU per delivery [default: none].
    #[arg(long)]
    pub server_pid: Option<u32>,
    /// Accept any TLS certificate of an https:// server (self-signed test setups).
    #[arg(long)]
    pub insecure: bool,
}

impl ScenarioFlags {
    pub fn into_scenario(self) -> Result<Scenario, String> {
        let mut s = match &self.scenario {
            Some(path) => Scenario::from_toml_file(path)?,
            None => Scenario::default(),
        };
        macro_rules! take {
            ($($field:ident),*) => { $( if let Some(v) = self.$field { s.$field = v; } )* };
        }
        take!(
            url,
            transport,
            users,
            first_user,
            rooms,
            members_per_room,
            senders_per_room,
            rate,
            message_size,
            duration_secs,
            ramp_up_secs,
            settle_secs,
            drain_secs,
            deadline_secs,
            max_in_flight,
            connect_concurrency,
            fixture
        );
        if self.idle {
            s.idle = true;
        }
        if self.no_acks {
            s.acks = false;
        }
        if self.client_msg_ids {
            s.client_msg_ids = true;
        }
        if self.insecure {
            s.insecure = true;
        }
        if let Some(list) = self.source_addrs {
            s.source_addrs = parse_source_addrs(&list)?;
        }
        if self.report.is_some() {
            s.report = self.report;
        }
        if self.series.is_some() {
            s.series = self.series;
        }
        if self.server_pid.is_some() {
            s.server_pid = self.server_pid;
        }
        s.validate()?;
        Ok(s)
    }
}

pub fn parse_source_addrs(list: &str) -> Result<Vec<IpAddr>, String> {
    if let Ok(count) = list.trim().parse::<u8>() {
        return Ok((1..=count).map(|n| IpAddr::from([127, 0, 0, n])).collect());
    }
    list.split(',')
        .map(|part| part.trim().parse::<IpAddr>().map_err(|e| format!("source address {part:?}: {e}")))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_override_the_file_and_counts_expand_to_loopback_addresses() {
        let dir = std::env::temp_dir().join(format!("rtchat-scenario-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("s.toml");
        std::fs::write(&file, "users = 500\nrate = 2.5\ntransport = \"ws\"\n").unwrap();
        let flags = ScenarioFlags {
            scenario: Some(file),
            users: Some(700),
            source_addrs: Some("3".into()),
            ..Default::default()
        };
        let s = flags.into_scenario().unwrap();
        assert_eq!((s.users, s.rate, s.transport), (700, 2.5, Transport::Ws));
        assert_eq!(s.source_addrs.len(), 3);
        assert_eq!(s.source_addrs[2], IpAddr::from([127, 0, 0, 3]));
        assert_eq!(s.socket_url(s.first_url()), "ws://127.0.0.1:8080/ws");
    }

    #[test]
    fn several_urls_are_the_nodes_of_a_cluster() {
        let s = Scenario { url: "http://127.0.0.1:8080, http://127.0.0.1:8081/".into(), ..Scenario::default() };
        assert_eq!(s.urls(), ["http://127.0.0.1:8080", "http://127.0.0.1:8081/"]);
        assert_eq!(s.first_url(), "http://127.0.0.1:8080");
        assert_eq!(s.socket_url(s.urls()[1]), "ws://127.0.0.1:8081/socket.io/?EIO=4&transport=websocket");
        assert!(s.validate().is_ok());
        let tls = Scenario { url: "http://a:1,https://b:2".into(), ..Scenario::default() };
        assert!(tls.validate().is_ok());
        assert_eq!(tls.socket_url("https://b:2"), "wss://b:2/socket.io/?EIO=4&transport=websocket");
        let other = Scenario { url: "http://a:1,ftp://b:2".into(), ..Scenario::default() };
        assert!(other.validate().unwrap_err().contains("ftp://b:2"));
    }

    #[test]
    fn unknown_keys_and_impossible_values_are_refused() {
        assert!(toml::from_str::<Scenario>("userz = 3").is_err());
        let s = Scenario { senders_per_room: 20, members_per_room: 10, ..Scenario::default() };
        assert!(s.validate().unwrap_err().contains("senders_per_room"));
    }
}
