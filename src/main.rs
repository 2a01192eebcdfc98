//! The `rtchat` command: `serve` (default) and `migrate`.

use clap::{Parser, Subcommand};
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
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
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
    let outcome = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(settings).await,
        Command::Migrate => migrate(settings).await,
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
    let app = Application::build(settings).await?;
    app.run_until_stopped().await?;
    Ok(())
}

async fn migrate(settings: Settings) -> Result<(), Box<dyn std::error::Error>> {
    let applied = rtchat::db::migrations::run_pending(&settings.database.url).await?;
    println!("{} migration(s) applied on {}", applied.len(), settings.redacted_database_url());
    Ok(())
}
