//! tracewire's runtime crate: logging, span events and trace identity for an HTTP frontend and
//! its workers.
//!
//! Start with [`logging`]: `logging::init()` configures everything from `DYN_LOG`,
//! `DYN_LOGGING_JSONL` and the TOML file named by `DYN_LOGGING_CONFIG_PATH`; then
//! [`http::TraceLayer`] on your router and [`propagation::inject_current`] on your outgoing
//! calls carry each request's trace across processes.
//!
//! # Layers
//!
//! The crate is built bottom up; a module imports only from the layers below it:
//!
//! ```text
//!  4  plane: PlaneClient over a Transport ── http/ (client, routes) · nats/ (client, serve)
//!        worker/ (engine, the protocol)  etcd · distributed · connect ·  run_worker
//!     serve (run_main, the HTTP server, the system server)
//!        ▼
//!  3  http (TraceLayer, make_span) ─► propagation: carriers (HTTP and NATS headers), W3C
//!                                     traceparent / tracestate / baggage, x-request-id; wire
//!        ▼
//!  2½ logging: Config and SETTINGS (every variable and key, one row each), install, init
//!        ▼                                         ▼
//!  2  subscriber: line pieces → format           otlp: value types of [otlp], exporters
//!     (jsonl | readable) · output · directives   (implement the trace exporter seam)
//!     · scope · the layer · LoggingConfig
//!        ▼                                         ▼
//!  1  trace: ids, SpanContext, RemoteContext,    settings: ConfigError, every variable
//!     field values, the exporter seam; metrics   (env::ALL), the settings table's machinery
//! ```
//!
//! - [`trace`] and [`settings`] import nothing from the crate but each other's bottom
//!   (`settings` names no other module). Every span's identity ([`trace::SpanContext`]) is
//!   decided in `trace` and only read elsewhere.
//! - [`subscriber`] and [`otlp`] are siblings that never meet: the layer hands spans and events
//!   to a [`trace::SpanExporter`] / [`trace::LogExporter`] without knowing OTLP. [`logging`] is
//!   above both: it owns the whole configuration ([`logging::Config`], read through
//!   [`logging::SETTINGS`]) and install, which starts the exporters and gives them to the layer.
//! - [`propagation`] reads and writes identities at a process's edges, through carrier traits
//!   (one impl per transport); [`http`], [`plane`] and [`serve`] build on it.
//!
//! Where a new thing goes:
//! - a setting: its field (default in its struct's `impl Default`), its value type's `FromStr`
//!   and `Deserialize` (`setting_value!`), its row in `logging::SETTINGS`, its variable in
//!   `settings::env` and `ALL`, its line in `docs/configuration.md` (a test checks the last
//!   three);
//! - a header or a transport's carrier: `propagation`;
//! - an output format: beside the two in `subscriber/format`; an exporter: beside `otlp`,
//!   implementing the `trace` seam;
//! - a request-plane transport: a folder in `plane/` with its `Transport` (client) and its
//!   serving side over `plane::worker`'s protocol;
//! - a server (the system server, a request plane's): layer 4.

pub mod http;
pub mod logging;
pub mod metrics;
pub mod otlp;
pub mod plane;
pub mod propagation;
pub mod serve;
pub mod settings;
pub mod subscriber;
pub mod tls;
pub mod trace;
pub mod wire;

/// What the crate's macros expand to; not part of the API.
#[doc(hidden)]
pub mod __private {
    pub use tracing;
}
