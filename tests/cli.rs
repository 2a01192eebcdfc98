//! The `rtchat` binary's start-up: bad configuration fails at once with one line
//! naming the setting; production refuses weak secrets; `migrate` works.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Command, Output};

fn rtchat(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_rtchat"));
    command.args(args).current_dir(env!("CARGO_MANIFEST_DIR"));
    for name in
        ["DATABASE_URL", "JWT_SEC", "REFRESH_TOKEN", "PORT", "REDIS_URL", "RTCHAT_ENV", "NODE_ENV", "MYSQL_HOST"]
    {
        command.env_remove(name);
    }
    command.envs(env.iter().copied());
    command.output().expect("rtchat runs")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn temp_sqlite() -> String {
    let dir = std::env::temp_dir().join("rtchat-tests");
    std::fs::create_dir_all(&dir).unwrap();
    format!("sqlite:{}", dir.join(format!("cli-{}.db", uuid::Uuid::new_v4().simple())).display())
}

#[test]
fn production_refuses_to_start_without_a_secret() {
    let output = rtchat(&["serve"], &[("RTCHAT_ENV", "production"), ("DATABASE_URL", &temp_sqlite())]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("auth.jwt_secret (JWT_SEC) is required in production"), "{}", stderr(&output));
}

#[test]
fn production_refuses_a_weak_secret() {
    let output =
        rtchat(&["serve"], &[("NODE_ENV", "production"), ("JWT_SEC", "secret"), ("DATABASE_URL", &temp_sqlite())]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("at least 32 bytes"), "{}", stderr(&output));
}

#[test]
fn an_unknown_database_scheme_names_the_setting() {
    let output = rtchat(&["serve"], &[("DATABASE_URL", "oracle://db/x")]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("database.url (DATABASE_URL)"), "{}", stderr(&output));
}

#[test]
fn a_non_numeric_port_names_the_setting() {
    let output = rtchat(&["serve"], &[("PORT", "eighty"), ("DATABASE_URL", &temp_sqlite())]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("server.port"), "{}", stderr(&output));
}

#[test]
fn an_unreachable_database_is_reported_with_its_cause_not_a_pool_timeout() {
    let output = rtchat(
        &["serve"],
        &[
            ("DATABASE_URL", "postgres://postgres:hunter2@127.0.0.1:1/rtchat"),
            ("RTCHAT_DATABASE__CONNECT_TIMEOUT_SECS", "2"),
        ],
    );
    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    assert!(err.contains("cannot connect to"), "{err}");
    assert!(!err.contains("hunter2"), "the password is never printed: {err}");
}

#[test]
fn migrate_applies_the_schema_once() {
    let url = temp_sqlite();
    let first = rtchat(&["migrate"], &[("DATABASE_URL", &url)]);
    assert!(first.status.success(), "{}", stderr(&first));
    assert!(
        String::from_utf8_lossy(&first.stdout).contains("3 migration(s) applied"),
        "every migration on a fresh database"
    );
    let again = rtchat(&["migrate"], &[("DATABASE_URL", &url)]);
    assert!(String::from_utf8_lossy(&again.stdout).contains("0 migration(s) applied"));
}

#[test]
fn production_defaults_hash_passwords_with_cost_12() {
    let settings = rtchat::Settings::for_environment("production").expect("production settings");
    assert_eq!(settings.auth.bcrypt_cost, 12);
    assert_eq!(settings.log.format, "json");
    let development = rtchat::Settings::for_environment("development").expect("development settings");
    assert_eq!(development.auth.bcrypt_cost, 12);
}

/// A fresh server process (its own metrics recorder): the first scrape already
/// describes and shows every rtchat family, and the process metrics.
#[test]
fn the_first_scrape_describes_every_family() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port().to_string();
    let mut server = Command::new(env!("CARGO_BIN_EXE_rtchat"))
        .arg("serve")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("REDIS_URL")
        .envs([("DATABASE_URL", temp_sqlite().as_str()), ("PORT", port.as_str()), ("RTCHAT_SERVER__HOST", "127.0.0.1")])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let scrape = || -> Option<String> {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(format!("127.0.0.1:{port}")).ok()?;
        stream.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").ok()?;
        let mut body = String::new();
        stream.read_to_string(&mut body).ok()?;
        Some(body)
    };
    let mut body = None;
    for _ in 0..100 {
        body = scrape();
        if body.is_some() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let _ = server.kill();
    let _ = server.wait();
    let body = body.expect("the server answered /metrics");
    for family in [
        "rtchat_sessions_connected",
        "rtchat_rooms_active",
        "rtchat_events_in_total",
        "rtchat_events_out_total",
        "rtchat_fanout_deliveries_total",
        "rtchat_messages_stored_total",
        "rtchat_acks_total",
        "rtchat_ack_seconds",
        "rtchat_db_write_seconds",
        "rtchat_store_round_rows",
        "rtchat_db_pool_wait_seconds",
        "rtchat_rate_limit_refusals_total",
        "rtchat_lagging_sessions_dropped_total",
        "rtchat_actor_restarts_total",
        "rtchat_redis_errors_total",
        "rtchat_http_requests_total",
        "rtchat_http_request_seconds",
    ] {
        assert!(body.contains(&format!("# HELP {family} ")), "{family} is not described:\n{body}");
        assert!(body.contains(&format!("# TYPE {family} ")), "{family} has no type:\n{body}");
    }
    for process in ["process_resident_memory_bytes", "process_open_fds", "process_max_fds", "process_cpu_seconds_total"]
    {
        assert!(body.contains(&format!("\n{process} ")), "{process} is missing:\n{body}");
    }
}

#[test]
fn config_check_accepts_a_good_configuration_and_names_a_bad_setting() {
    let url = temp_sqlite();
    let good = rtchat(&["config", "check"], &[("DATABASE_URL", &url)]);
    assert!(good.status.success(), "{}", stderr(&good));
    assert!(String::from_utf8_lossy(&good.stdout).contains("configuration OK"));
    let bad = rtchat(&["config", "check"], &[("DATABASE_URL", &url), ("RTCHAT_AUTH__BCRYPT_COST", "99")]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("auth.bcrypt_cost"), "{}", stderr(&bad));
}

#[test]
fn config_print_shows_the_effective_settings_with_secrets_hidden() {
    let secret = "a-very-secret-jwt-key-that-is-long-enough-1234";
    let output = rtchat(
        &["config", "print"],
        &[
            ("JWT_SEC", secret),
            ("DATABASE_URL", "postgres://app:hunter2@db.example:5432/chat"),
            ("PORT", "9123"),
            ("RTCHAT_OPERATOR__TOKEN", "operator-secret"),
        ],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(printed.contains("port = 9123"), "{printed}");
    assert!(printed.contains("postgres://app:***@db.example:5432/chat"), "{printed}");
    for secret in [secret, "hunter2", "operator-secret"] {
        assert!(!printed.contains(secret), "{secret} was printed:\n{printed}");
    }
    let parsed: toml::Table = printed.parse().expect("the output is TOML");
    assert_eq!(parsed["auth"]["jwt_secret"].as_str(), Some("***"));
}

#[test]
fn a_config_folder_that_does_not_exist_is_an_error() {
    let output =
        rtchat(&["--config", "/nonexistent/rtchat-config", "config", "check"], &[("DATABASE_URL", &temp_sqlite())]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("config folder /nonexistent/rtchat-config"), "{}", stderr(&output));
}

#[test]
fn serve_help_documents_the_settings_and_their_variables() {
    let output = rtchat(&["serve", "--help"], &[]);
    let help = String::from_utf8_lossy(&output.stdout);
    for variable in
        ["DATABASE_URL", "JWT_SEC", "REDIS_URL", "CORS_ORIGINS", "RTCHAT_<SECTION>__<KEY>", "rtchat config print"]
    {
        assert!(help.contains(variable), "{variable} is not in serve --help:\n{help}");
    }
}
