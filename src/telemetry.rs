//! tracing: human-readable by default, JSON with `log.format = "json"`; RUST_LOG
//! overrides the configured level.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use crate::config::LogSettings;

pub fn init(settings: &LogSettings) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&settings.level));
    // Colours only for a person at a terminal: escape codes would litter log files.
    let builder =
        tracing_subscriber::fmt().with_env_filter(filter).with_target(true).with_ansi(std::io::stdout().is_terminal());
    // try_init: tests start many apps in one process; only the first installs.
    let _ = if settings.format == "json" { builder.json().flatten_event(true).try_init() } else { builder.try_init() };
}
