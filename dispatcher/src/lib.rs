//! The Badung 112 dispatcher: intake, classification, dispatch and live feed.
//!
//! See `ARCHITECTURE.md` at the repository root for the bird's-eye view. In
//! short: HTTP handlers ([`http`]) validate input and send commands to the
//! single writer ([`core`]), which group-commits them to the [`store`] with
//! their events; the [`live`] hub then applies committed events to the
//! in-memory indexes ([`dispatch`]) and fans them out over websockets.

pub mod app;
pub mod auth;
pub mod classify;
pub mod cli;
pub mod clock;
pub mod core;
pub mod demo;
pub mod dispatch;
pub mod domain;
pub mod error;
pub mod gateways;
pub mod http;
pub mod live;
pub mod seed;
pub mod store;
pub mod telemetry;

/// mimalloc instead of glibc's malloc for every binary that links the dispatcher.
///
/// With glibc, `malloc`, `free` and their bookkeeping (`malloc_consolidate`,
/// `unlink_chunk`) were about 13 % of the process's CPU under ingest load
/// (`perf`, ingest benchmark): requests allocate and free many small
/// objects across threads.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
