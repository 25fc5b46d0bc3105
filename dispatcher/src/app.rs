//! Assembling and running the dispatcher: store, domain, writer, hub, timers and HTTP server.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::serve::ListenerExt;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::auth::TokenCache;
use crate::classify::Classifier;
use crate::clock::Clock;
use crate::core::units::FlagOverdue;
use crate::core::Core;
use crate::dispatch::ack::AckTimers;
use crate::dispatch::plans::ResponsePlans;
use crate::domain::{Domain, DuplicatePolicy};
use crate::http::intake::GatewayState;
use crate::http::{AppState, Connections, UiConfig};
use crate::live::runtime::FeedRuntime;
use crate::live::Hub;
use crate::store::{sqlite_url, Backend, IncidentFilter, Store};

/// Everything the server needs to start.
#[derive(Debug, Clone)]
pub struct Settings {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    /// Overrides the embedded SQLite database (e.g. `postgres://...`).
    pub database_url: Option<String>,
    pub ui_dir: PathBuf,
    pub response_plans: Option<PathBuf>,
    /// Events kept in memory for replay to reconnecting clients.
    pub feed_history: usize,
    /// Frames a subscriber may fall behind before it is dropped as lagging.
    pub feed_channel: usize,
    /// Worker threads of the websocket connections' own runtime (see [`crate::live::runtime`]).
    pub feed_threads: usize,
    pub aml_hmac_key: Option<String>,
    pub tile_url: Option<String>,
    pub duplicates: DuplicatePolicy,
    pub clock: Clock,
}

impl Settings {
    pub fn new(listen: SocketAddr, data_dir: PathBuf) -> Self {
        Settings {
            listen,
            data_dir,
            database_url: None,
            ui_dir: crate::http::default_ui_dir(),
            response_plans: None,
            feed_history: 10_000,
            feed_channel: 16_384,
            feed_threads: crate::live::runtime::default_threads(),
            aml_hmac_key: None,
            tile_url: None,
            duplicates: DuplicatePolicy::default(),
            clock: Clock::System,
        }
    }

    pub fn database_url(&self) -> String {
        self.database_url.clone().unwrap_or_else(|| sqlite_url(&self.data_dir))
    }
}

/// Opens the store (creating the data dir for SQLite).
pub async fn open_store(settings: &Settings) -> anyhow::Result<Store> {
    if settings.database_url.is_none() {
        std::fs::create_dir_all(&settings.data_dir)
            .with_context(|| format!("creating {}", settings.data_dir.display()))?;
    }
    Store::connect(&settings.database_url()).await
}

/// A running dispatcher.
#[derive(Debug)]
pub struct App {
    pub addr: SocketAddr,
    pub state: AppState,
    shutdown: watch::Sender<bool>,
    server: JoinHandle<std::io::Result<()>>,
    writer: JoinHandle<()>,
    background: Vec<JoinHandle<()>>,
    feed: FeedRuntime,
}

impl App {
    /// Starts everything and begins serving on `settings.listen` (port 0 picks a free port).
    pub async fn start(settings: Settings) -> anyhow::Result<App> {
        let store = open_store(&settings).await?;
        let plans = match &settings.response_plans {
            Some(path) => {
                let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
                ResponsePlans::parse(&text, &path.display().to_string())?
            }
            None => ResponsePlans::embedded()?,
        };
        let classifier = Arc::new(Classifier::embedded().context("loading the classifier's data")?);
        let domain = Arc::new(Domain::new(
            settings.clock.clone(),
            classifier,
            plans,
            settings.duplicates.clone(),
        ));

        // Projections first, then the sequence they reflect.
        let head = store.head_seq().await?;
        domain.units.load(store.units().await?);
        let active = store
            .list_incidents(&IncidentFilter {
                active: Some(true),
                limit: 100_000,
                ..Default::default()
            })
            .await?;
        domain.incidents.load(&active);

        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let hub = Hub::new(
            store.clone(),
            domain.clone(),
            head,
            settings.feed_history,
            settings.feed_channel,
        );
        let (core, writer) = Core::start(store.clone(), domain.clone(), hub.clone())?;
        let flagger = core.clone();
        let on_due: crate::dispatch::ack::OnDue = Arc::new(move |unit_id, incident_id| {
            let core = flagger.clone();
            Box::pin(async move {
                let flag = FlagOverdue { unit_id, incident_id };
                core.execute(incident_types::Actor::system(), flag).await.map(|_| ())
            })
        });
        let (ack, ack_task) = AckTimers::start(
            on_due,
            settings.clock.clone(),
            store.pending_acks().await?,
            shutdown_rx.clone(),
        );
        hub.set_ack_timers(ack);
        let mut background = vec![ack_task];
        if store.backend == Backend::Postgres {
            background.push(tokio::spawn(crate::live::follow_other_nodes(
                hub.clone(),
                Duration::from_millis(250),
                shutdown_rx.clone(),
            )));
        }

        let feed = FeedRuntime::start(settings.feed_threads)?;
        let state = AppState {
            feed: feed.handle().clone(),
            store,
            core,
            hub,
            domain,
            tokens: TokenCache::default(),
            connections: Connections::default(),
            shutdown: shutdown_rx.clone(),
            ui: Arc::new(UiConfig {
                tile_url: settings.tile_url.clone(),
                tile_attribution: settings
                    .tile_url
                    .as_ref()
                    .map(|_| "© OpenStreetMap contributors".to_owned()),
            }),
            gateways: Arc::new(GatewayState::new(
                settings.aml_hmac_key.as_ref().map(|k| k.as_bytes().to_vec()),
                chrono::Duration::seconds(60),
                chrono::Duration::seconds(120),
            )),
        };
        background.push(tokio::spawn(flush_sms_parts(state.clone(), shutdown_rx.clone())));

        let listener = TcpListener::bind(settings.listen)
            .await
            .with_context(|| format!("binding {}", settings.listen))?;
        let addr = listener.local_addr()?;
        let router = crate::http::router(state.clone(), settings.ui_dir.clone());
        // Small feed frames must not wait for Nagle's algorithm.
        let listener = listener.tap_io(|tcp| {
            if let Err(e) = tcp.set_nodelay(true) {
                tracing::debug!(error = %e, "TCP_NODELAY not set");
            }
        });
        let mut stop = shutdown_rx;
        let server = tokio::spawn(async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(async move {
                    let _ = stop.wait_for(|s| *s).await;
                })
                .await
        });
        tracing::info!(%addr, "dispatcher listening");
        Ok(App {
            addr,
            state,
            shutdown: shutdown_tx,
            server,
            writer,
            background,
            feed,
        })
    }

    /// Websocket connection tasks still running on the feed's runtime.
    pub fn feed_tasks(&self) -> usize {
        self.feed.alive_tasks()
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Asks everything to stop: no new connections; in-flight requests finish.
    pub fn begin_shutdown(&self) {
        let _ = self.shutdown.send(true);
    }

    /// Stops gracefully: in-flight requests finish and commit, the writer drains, the store closes.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        self.begin_shutdown();
        let served = self.server.await;
        for task in self.background {
            let _ = task.await;
        }
        // Websocket connections (not tracked by the HTTP server once upgraded)
        // send their close frames; a peer that does not take it is not waited for.
        let _ = tokio::time::timeout(Duration::from_secs(2), self.state.connections.all_closed()).await;
        let store = self.state.store.clone();
        // The last handles to the writer go with the state; it then drains and stops.
        drop(self.state);
        let _ = self.writer.await;
        store.close().await;
        served.context("server task")?.context("serving")?;
        Ok(())
    }
}

/// Every few seconds, stores multi-part SMS whose missing parts never came.
async fn flush_sms_parts(state: AppState, mut shutdown: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(Duration::from_secs(10));
    loop {
        tokio::select! {
            _ = shutdown.changed() => break,
            _ = tick.tick() => crate::http::intake::flush_expired_sms(&state).await,
        }
    }
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn termination_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
