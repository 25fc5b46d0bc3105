//! Command line: `serve` (default), `demo`, `token create`, `seed`, `classify`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};

use crate::app::{open_store, App, Settings};
use crate::auth::{new_token, token_hash, Principal, Role};

#[derive(Debug, Parser)]
#[command(name = "dispatcher", version, about = "Badung 112 dispatcher")]
struct Cli {
    #[command(flatten)]
    common: Common,
    #[command(subcommand)]
    command: Option<Command>,
}

/// Options every subcommand shares; each also comes from the environment.
#[derive(Debug, Args, Clone)]
struct Common {
    /// Address to listen on.
    #[arg(long, global = true, env = "DISPATCHER_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Folder of the embedded SQLite database.
    #[arg(long, global = true, env = "DISPATCHER_DATA_DIR", default_value = "./data")]
    data_dir: PathBuf,
    /// Database URL (`postgres://...`), instead of the embedded SQLite.
    #[arg(long, global = true, env = "DATABASE_URL")]
    database_url: Option<String>,
    /// Folder of the browser UI.
    #[arg(long, global = true, env = "DISPATCHER_UI_DIR")]
    ui_dir: Option<PathBuf>,
    /// A response-plans TOML file instead of the built-in one.
    #[arg(long, global = true, env = "DISPATCHER_RESPONSE_PLANS")]
    response_plans: Option<PathBuf>,
    /// Online map tiles, e.g. `https://tile.openstreetmap.org/{z}/{x}/{y}.png` (default: offline basemap).
    #[arg(long, global = true, env = "DISPATCHER_TILE_URL")]
    tile_url: Option<String>,
    /// Shared key for AML-over-HTTPS HMACs.
    #[arg(long, global = true, env = "DISPATCHER_AML_HMAC_KEY", hide_env_values = true)]
    aml_hmac_key: Option<String>,
    /// Log JSON lines instead of text.
    #[arg(long, global = true, env = "DISPATCHER_LOG_JSON")]
    log_json: bool,
    /// Threads for websocket connections, apart from intake (default: half the cores, at least 1).
    #[arg(long, global = true, env = "DISPATCHER_FEED_THREADS", value_parser = clap::value_parser!(u16).range(1..=256))]
    feed_threads: Option<u16>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server (the default).
    Serve,
    /// Run a live demo of Badung: seeded units, simulated calls and reports, printed tokens.
    Demo(crate::demo::DemoArgs),
    /// Manage bearer tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Register the units of the shipped Badung stations (or of a stations CSV).
    Seed {
        #[arg(long)]
        stations: Option<PathBuf>,
    },
    /// Classify JSON lines from stdin, or evaluate on a labelled file.
    Classify {
        /// A labelled JSONL file (format of reports-dev.jsonl): print the metrics.
        #[arg(long)]
        eval: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum TokenCommand {
    /// Create a token and print it on stdout (it is stored only as a hash).
    Create {
        #[arg(long)]
        role: String,
        /// The unit a `unit` token acts for.
        #[arg(long)]
        unit: Option<String>,
        /// Who holds it (for the audit trail).
        #[arg(long)]
        name: Option<String>,
    },
}

impl Common {
    fn settings(&self) -> Settings {
        let mut s = Settings::new(self.listen, self.data_dir.clone());
        s.database_url = self.database_url.clone();
        if let Some(ui) = &self.ui_dir {
            s.ui_dir = ui.clone();
        }
        s.response_plans = self.response_plans.clone();
        s.tile_url = self.tile_url.clone();
        s.aml_hmac_key = self.aml_hmac_key.clone();
        if let Some(n) = self.feed_threads {
            s.feed_threads = usize::from(n);
        }
        s
    }
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    crate::telemetry::init(cli.common.log_json);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let settings = cli.common.settings();
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            let app = App::start(settings).await?;
            crate::app::termination_signal().await;
            tracing::info!("shutting down");
            app.shutdown().await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Demo(args) => crate::demo::run(settings, args).await.map(|()| ExitCode::SUCCESS),
        Command::Token {
            command: TokenCommand::Create { role, unit, name },
        } => {
            let token = create_token(&settings, &role, unit.as_deref(), name.as_deref()).await?;
            println!("{token}");
            Ok(ExitCode::SUCCESS)
        }
        Command::Seed { stations } => {
            let text = match stations {
                Some(path) => std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?,
                None => crate::seed::STATIONS_CSV.to_owned(),
            };
            let app = App::start(Settings {
                listen: "127.0.0.1:0".parse()?,
                ..settings
            })
            .await?;
            let n = crate::demo::register_units(&app, &text).await?;
            app.shutdown().await?;
            println!("registered {n} units");
            Ok(ExitCode::SUCCESS)
        }
        Command::Classify { eval } => classify(eval),
    }
}

/// Creates and stores a token; returns it (the only time it is visible).
pub async fn create_token(
    settings: &Settings,
    role: &str,
    unit: Option<&str>,
    name: Option<&str>,
) -> anyhow::Result<String> {
    let role = Role::parse(role).ok_or_else(|| {
        anyhow::anyhow!(
            "unknown role `{role}`; one of: {}",
            Role::ALL.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(", ")
        )
    })?;
    let unit_id = match (role, unit) {
        (Role::Unit, Some(u)) => Some(incident_types::UnitId::parse("unit", u).map_err(|e| anyhow::anyhow!("{e}"))?),
        (Role::Unit, None) => anyhow::bail!("a unit token needs --unit UNIT_ID"),
        (_, Some(_)) => anyhow::bail!("--unit goes only with --role unit"),
        (_, None) => None,
    };
    let store = open_store(settings).await?;
    let token = new_token();
    let principal = Principal {
        role,
        name: name
            .map(str::to_owned)
            .or_else(|| unit_id.as_ref().map(|u| u.0.clone()))
            .unwrap_or_else(|| role.as_str().to_owned()),
        unit_id,
    };
    store
        .insert_token(&token_hash(&token), &principal, chrono::Utc::now())
        .await?;
    store.close().await;
    Ok(token)
}

fn classify(eval: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let classifier = crate::classify::Classifier::embedded()?;
    match eval {
        Some(path) => {
            let file = std::fs::File::open(&path).with_context(|| format!("opening {}", path.display()))?;
            let report = crate::classify::eval::evaluate(&classifier, std::io::BufReader::new(file))?;
            println!("{report}");
        }
        None => {
            let stdin = std::io::stdin().lock();
            let stdout = std::io::stdout().lock();
            let stats = crate::classify::eval::classify_stream(&classifier, stdin, std::io::BufWriter::new(stdout))?;
            tracing::info!(?stats, "classified");
        }
    }
    Ok(ExitCode::SUCCESS)
}
