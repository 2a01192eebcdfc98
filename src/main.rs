//! The `rtchat` command: `serve` (default), `migrate`, `config` and `loadtest`.

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use rtchat::{Application, Settings, telemetry};
use rtchat_loadtest::cli::LoadtestCommand;

#[derive(Parser)]
#[command(name = "rtchat", version, about = "Real-time chat server (REST + Socket.IO)")]
struct Cli {
    /// Folder of the configuration files (default.toml, <environment>.toml). Given
    /// here or in RTCHAT_CONFIG_DIR it must exist; the default, ./config, may be
    /// absent (the defaults are built in).
    #[arg(long, global = true, value_name = "DIR")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

/// What `rtchat serve --help` says about settings.
const SETTINGS_HELP: &str = "\
Settings, later layers winning: the built-in config/default.toml, <config dir>/default.toml,
<config dir>/<RTCHAT_ENV>.toml (RTCHAT_ENV, else NODE_ENV, else development), the seed's
variables, then RTCHAT_<SECTION>__<KEY> for any setting (e.g. RTCHAT_SERVER__PORT=9000).

Most used:
  PORT                       server.port (8080)
  DATABASE_URL               database.url (sqlite:data/rtchat.db; postgres://..., mysql://...)
  MYSQL_HOST/_PORT/_USER/_PASSWORD/_DATABASE   database.url, the seed's way
  REDIS_URL                  redis.url (empty: limits in-process)
  JWT_SEC                    auth.jwt_secret (required in production, >= 32 bytes)
  REFRESH_TOKEN              auth.refresh_secret (derived from JWT_SEC when empty)
  CORS_ORIGINS               server.cors_origins (comma-separated browser origins)
  RTCHAT_OPERATOR__TOKEN     operator.token (/health/supervisor; /metrics with protect_metrics)
  RUST_LOG                   log.level

Every setting with its current value (secrets hidden): rtchat config print.
Check a configuration without starting: rtchat config check.";

#[derive(Subcommand)]
enum ConfigAction {
    /// Load and validate the configuration; exit 0 if it would start, 2 naming the bad setting.
    Check,
    /// Print the effective configuration as TOML, secrets replaced by ***.
    Print,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (the default).
    #[command(after_long_help = SETTINGS_HELP)]
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Check or print the effective configuration.
    Config {
        #[command(subcommand)]
        action: ConfigAction,
    },
    /// Drive simulated chat sessions against a server and report what arrived.
    Loadtest {
        #[command(subcommand)]
        command: LoadtestCommand,
    },
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let command = cli.command.unwrap_or(Command::Serve);
    // The load generator prints its own progress and report, and may run far from
    // any server configuration.
    if let Command::Loadtest { command } = command {
        let direct = rtchat::loadtest_fixture::FromConfiguration;
        return match rtchat_loadtest::cli::execute(command, Some(&direct)).await {
            Ok(true) => std::process::ExitCode::SUCCESS,
            Ok(false) => std::process::ExitCode::FAILURE,
            Err(error) => {
                eprintln!("rtchat loadtest: {error}");
                std::process::ExitCode::from(2)
            }
        };
    }
    let mut settings = match Settings::load_from(cli.config) {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("rtchat: {error}");
            return std::process::ExitCode::from(2);
        }
    };
    if let Command::Config { action } = &command {
        return configuration(action, settings);
    }
    telemetry::init(&settings.log);
    if let Err(error) = settings.validate() {
        eprintln!("rtchat: {error}");
        return std::process::ExitCode::from(2);
    }
    let outcome = match command {
        Command::Migrate => migrate(settings).await,
        _ => serve(settings).await,
    };
    match outcome {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("{error}");
            eprintln!("rtchat: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn serve(settings: Settings) -> Result<(), Box<dyn std::error::Error>> {
    // Every connection is a file: take the open-files limit as high as allowed.
    let open_files = rtchat::startup::raise_open_files_limit();
    tracing::info!(open_files, "open files limit");
    let app = Application::build(settings).await?;
    app.run_until_stopped().await?;
    Ok(())
}

async fn migrate(settings: Settings) -> Result<(), Box<dyn std::error::Error>> {
    let applied = rtchat::db::migrations::run_pending(&settings.database.url).await?;
    println!("{} migration(s) applied on {}", applied.len(), settings.redacted_database_url());
    Ok(())
}

/// `rtchat config check|print`: validated as `serve` would, without starting.
fn configuration(action: &ConfigAction, mut settings: Settings) -> std::process::ExitCode {
    if let Err(error) = settings.validate() {
        eprintln!("rtchat: {error}");
        return std::process::ExitCode::from(2);
    }
    match action {
        ConfigAction::Check => {
            println!("configuration OK ({} environment, {})", settings.environment, settings.redacted_database_url());
            std::process::ExitCode::SUCCESS
        }
        ConfigAction::Print => match toml::to_string_pretty(&settings.redacted()) {
            Ok(text) => {
                print!("{text}");
                std::process::ExitCode::SUCCESS
            }
            Err(error) => {
                eprintln!("rtchat: cannot print the configuration: {error}");
                std::process::ExitCode::FAILURE
            }
        },
    }
}
