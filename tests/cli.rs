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
        String::from_utf8_lossy(&first.stdout).contains("2 migration(s) applied"),
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
