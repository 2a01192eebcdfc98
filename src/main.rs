//! The `rtchat` command: `serve` (default), `migrate` and `loadtest`.

use clap::{Parser, Subcommand};
use rtchat::loadtest::cli::LoadtestCommand;
use rtchat::{Application, Settings, telemetry};

#[derive(Parser)]
#[command(name = "rtchat", version, about = "Real-time chat server (REST + Socket.IO)")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (the default).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
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
        return match rtchat::loadtest::cli::execute(command).await {
            Ok(true) => std::process::ExitCode::SUCCESS,
            Ok(false) => std::process::ExitCode::FAILURE,
            Err(error) => {
                eprintln!("rtchat loadtest: {error}");
                std::process::ExitCode::from(2)
            }
        };
    }
    let mut settings = match Settings::load() {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("rtchat: {error}");
            return std::process::ExitCode::from(2);
        }
    };
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
