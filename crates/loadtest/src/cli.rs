//! `rtchat loadtest prepare|run|merge` (and `rtchat-loadtest`, the same without
//! the server's database).

use std::path::PathBuf;

use clap::{Args, Subcommand};
use futures::future::BoxFuture;

use super::fixture::Fixture;
use super::provision::{self, PrepareArgs};
use super::report::Report;
use super::scenario::ScenarioFlags;
use super::thresholds::Thresholds;

/// Makes a fixture without going through a server: the server binary writes
/// users, sessions and rooms straight into its own database.
pub trait DirectProvisioner: Sync {
    fn provision(&self, users: usize, rooms: usize, members_per_room: usize) -> BoxFuture<'_, Result<Fixture, String>>;
    /// New tokens for these users of a fixture made in the database.
    fn renew<'a>(&'a self, fixture: &'a mut Fixture, users: &'a [usize]) -> BoxFuture<'a, Result<(), String>>;
}

#[derive(Debug, Subcommand)]
pub enum LoadtestCommand {
    /// Make the users (with tokens) and rooms a run uses: with --url through a
    /// running server's REST API; without, straight into the configured database
    /// (`rtchat loadtest` only: it reads the server's configuration).
    Prepare(PrepareArgs),
    /// Run a scenario and print the report (table, or JSON with --json).
    Run {
        #[command(flatten)]
        flags: Box<ScenarioFlags>,
        #[command(flatten)]
        output: Output,
    },
    /// Add up the JSON reports (--report) of several processes that ran one load
    /// together: counts and rates add, latency histograms merge exactly.
    Merge {
        /// The reports to merge.
        #[arg(required = true)]
        reports: Vec<PathBuf>,
        /// Also write the merged JSON report to this file.
        #[arg(long)]
        report: Option<PathBuf>,
        #[command(flatten)]
        output: Output,
    },
}

/// How a report is shown and judged.
#[derive(Debug, Args)]
pub struct Output {
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
    #[command(flatten)]
    thresholds: Thresholds,
}

/// Runs the command; `Ok(false)` when `--check` or a threshold failed the run.
/// `direct` makes fixtures without a URL (none: `prepare` needs `--url`).
pub async fn execute(command: LoadtestCommand, direct: Option<&dyn DirectProvisioner>) -> Result<bool, String> {
    match command {
        LoadtestCommand::Prepare(args) => prepare(args, direct).await.map(|()| true),
        LoadtestCommand::Run { flags, output } => {
            let scenario = (*flags).into_scenario()?;
            crate::renew::ensure_fresh(&scenario, direct).await?;
            let report_path = scenario.report.clone();
            let report = super::run(scenario, !output.quiet).await?;
            show(&report, report_path, &output)
        }
        LoadtestCommand::Merge { reports, report, output } => {
            let merged = crate::merge::merge(crate::merge::load(&reports)?)?;
            show(&merged, report, &output)
        }
    }
}

/// Prints (and saves) the report; whether it passes `--check` and the thresholds.
fn show(report: &Report, path: Option<PathBuf>, output: &Output) -> Result<bool, String> {
    let json_text = serde_json::to_string_pretty(report).map_err(|e| e.to_string())?;
    if let Some(path) = path {
        std::fs::write(&path, &json_text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    if output.json {
        println!("{json_text}");
    } else {
        print!("{}", report.table());
    }
    let broken = output.thresholds.broken_by(report);
    for reason in &broken {
        eprintln!("threshold broken: {reason}");
    }
    let unclean = output.check && !report.is_clean();
    if unclean {
        eprintln!("--check: the run is not clean (failures, losses, duplicates or reordering above)");
    }
    Ok(broken.is_empty() && !unclean)
}

async fn prepare(args: PrepareArgs, direct: Option<&dyn DirectProvisioner>) -> Result<(), String> {
    let started = std::time::Instant::now();
    let fixture = match (&args.url, direct) {
        (Some(url), _) => {
            let (users, rooms, members) = (args.users, args.rooms, args.members_per_room);
            provision::rest::provision(url, users, rooms, members, args.concurrency, args.insecure).await?
        }
        (None, Some(direct)) => direct.provision(args.users, args.rooms, args.members_per_room).await?,
        (None, None) => {
            return Err("prepare needs --url (the server's REST API); `rtchat loadtest prepare` can also write \
                        straight into the server's database"
                .into());
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
