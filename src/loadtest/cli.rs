//! `rtchat loadtest prepare|run`.

use clap::Subcommand;

use super::provision::{self, PrepareArgs};
use super::scenario::ScenarioFlags;
use crate::Settings;

#[derive(Debug, Subcommand)]
pub enum LoadtestCommand {
    /// Make the users (with tokens) and rooms a run uses: straight into the
    /// configured database (the server's own configuration), or with --url through
    /// a running server's REST API.
    Prepare(PrepareArgs),
    /// Run a scenario and print the report (table, or JSON with --json).
    Run {
        #[command(flatten)]
        flags: Box<ScenarioFlags>,
        /// Print the JSON report on stdout instead of the table.
        #[arg(long)]
        json: bool,
        /// Exit with status 1 unless the run is clean: every connection made,
        /// every send answered, nothing lost, duplicated or out of order.
        #[arg(long)]
        check: bool,
        /// No progress bars.
        #[arg(long)]
        quiet: bool,
    },
}

/// Runs the command; `Ok(false)` when `--check` found the run unclean.
pub async fn execute(command: LoadtestCommand) -> Result<bool, String> {
    match command {
        LoadtestCommand::Prepare(args) => prepare(args).await.map(|()| true),
        LoadtestCommand::Run { flags, json, check, quiet } => {
            let scenario = (*flags).into_scenario()?;
            let report_path = scenario.report.clone();
            let report = super::run(scenario, !quiet).await?;
            let json_text = serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?;
            if let Some(path) = report_path {
                std::fs::write(&path, &json_text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
            }
            if json {
                println!("{json_text}");
            } else {
                print!("{}", report.table());
            }
            Ok(!check || report.is_clean())
        }
    }
}

async fn prepare(args: PrepareArgs) -> Result<(), String> {
    let started = std::time::Instant::now();
    let fixture = match &args.url {
        Some(url) => {
            provision::rest::provision(url, args.users, args.rooms, args.members_per_room, args.concurrency).await?
        }
        None => {
            let mut settings = Settings::load().map_err(|e| e.to_string())?;
            settings.validate().map_err(|e| e.to_string())?;
            provision::database::provision(&settings, args.users, args.rooms, args.members_per_room).await?
        }
    };
    fixture.save(&args.out)?;
    eprintln!(
        "prepared {} in {:.1} s -> {}",
        provision::summary(&fixture),
        started.elapsed().as_secs_f64(),
        args.out.display()
    );
    Ok(())
}
