//! `rtchat-loadtest`: the load generator on its own, for a machine without the
//! server (fixtures through a server's REST API: `prepare --url`).

use clap::Parser;
use rtchat_loadtest::cli::LoadtestCommand;

#[derive(Parser)]
#[command(
    name = "rtchat-loadtest",
    version,
    about = "Drive simulated chat sessions against a server and report what arrived"
)]
struct Cli {
    #[command(subcommand)]
    command: LoadtestCommand,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match rtchat_loadtest::cli::execute(Cli::parse().command, None).await {
        Ok(true) => std::process::ExitCode::SUCCESS,
        Ok(false) => std::process::ExitCode::FAILURE,
        Err(error) => {
            eprintln!("rtchat-loadtest: {error}");
            std::process::ExitCode::from(2)
        }
    }
}
