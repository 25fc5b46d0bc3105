//! `dispatcher demo`: a live Badung in a fresh database, with simulated callers and crews.

mod simulator;

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use incident_types::Actor;
use serde::Serialize;

use crate::app::{App, Settings};
use crate::auth::Role;
use crate::core::units::RegisterUnit;

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Do not simulate callers and crews (for tests that drive everything themselves).
    #[arg(long)]
    no_simulator: bool,
    /// Write the URL and tokens as JSON to this file once the demo is ready.
    #[arg(long)]
    info_file: Option<PathBuf>,
    /// Seconds between simulated reports, on average.
    #[arg(long, default_value_t = 8.0)]
    report_every_s: f64,
}

/// What `--info-file` holds.
#[derive(Debug, Serialize)]
struct Info {
    url: String,
    tokens: Tokens,
}

#[derive(Debug, Serialize)]
struct Tokens {
    call_taker: String,
    dispatcher: String,
    supervisor: String,
    integrator: String,
    admin: String,
    units: BTreeMap<String, String>,
}

/// Registers one unit per vehicle of the stations CSV; returns how many.
pub async fn register_units(app: &App, stations_csv: &str) -> anyhow::Result<usize> {
    let stations = crate::seed::parse_stations(stations_csv)?;
    let units = crate::seed::units_from_stations(&stations);
    let admin = Actor {
        role: "admin".into(),
        name: "seed".into(),
    };
    let n = units.len();
    for u in units {
        app.state
            .core
            .execute(admin.clone(), RegisterUnit(u))
            .await
            .map_err(|e| anyhow::anyhow!("registering a unit: {e}"))?;
    }
    Ok(n)
}

pub async fn run(mut settings: Settings, args: DemoArgs) -> anyhow::Result<()> {
    if settings.database_url.is_none() {
        // A fresh Badung every time: the demo's database lives in its own folder.
        settings.data_dir = settings.data_dir.join("demo");
        if settings.data_dir.exists() {
            std::fs::remove_dir_all(&settings.data_dir)
                .with_context(|| format!("clearing {}", settings.data_dir.display()))?;
        }
    }
    let app = App::start(settings.clone()).await?;
    let n = register_units(&app, crate::seed::STATIONS_CSV).await?;
    let token = |role: Role, unit: Option<&str>| {
        let settings = settings.clone();
        let unit = unit.map(str::to_owned);
        async move {
            crate::cli::create_token(
                &settings,
                role.as_str(),
                unit.as_deref(),
                Some(&format!("demo {}", unit.as_deref().unwrap_or(role.as_str()))),
            )
            .await
        }
    };
    let mut units = BTreeMap::new();
    for u in app.state.domain.units.units() {
        units.insert(u.id.0.clone(), token(Role::Unit, Some(u.id.as_str())).await?);
    }
    let tokens = Tokens {
        call_taker: token(Role::CallTaker, None).await?,
        dispatcher: token(Role::Dispatcher, None).await?,
        supervisor: token(Role::Supervisor, None).await?,
        integrator: token(Role::Integrator, None).await?,
        admin: token(Role::Admin, None).await?,
        units,
    };
    let url = app.url();
    println!(
        "\nBadung 112 dispatcher demo: {n} units at {} stations.\n",
        crate::seed::parse_stations(crate::seed::STATIONS_CSV)?.len()
    );
    println!("  Open {url}/ and paste a token:\n");
    println!("  call-taker  {}   ({url}/console)", tokens.call_taker);
    println!("  dispatcher  {}   ({url}/console)", tokens.dispatcher);
    println!("  supervisor  {}   ({url}/map)", tokens.supervisor);
    if let Some((unit, t)) = tokens.units.iter().next() {
        println!("  unit {unit}  {t}   ({url}/unit)");
    }
    println!(
        "  integrator  {}   (API: POST {url}/api/v1/calls/events, /reports, /sms/inbound)",
        tokens.integrator
    );
    println!("  admin       {}\n", tokens.admin);
    println!("  API description: {url}/api/v1/openapi.json");
    if !args.no_simulator {
        println!(
            "  Simulated 112 calls, SMS and app reports arrive every ~{:.0} s; simulated crews acknowledge and drive.",
            args.report_every_s
        );
    }
    println!("  Ctrl-C stops the demo.\n");
    let info = Info { url, tokens };
    if let Some(path) = &args.info_file {
        // Write then rename, so a reader never sees half a file.
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, serde_json::to_vec_pretty(&info)?)?;
        std::fs::rename(&tmp, path)?;
    }
    let sim = (!args.no_simulator).then(|| tokio::spawn(simulator::run(app.state.clone(), args.report_every_s)));
    crate::app::termination_signal().await;
    if let Some(sim) = sim {
        sim.abort();
    }
    app.shutdown().await
}
