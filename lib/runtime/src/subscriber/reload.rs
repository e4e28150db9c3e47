//! Filters changed while the process runs ([`FilterHandle`]), at no cost on the hot path.
//!
//! Why not tracing-subscriber's `reload::Layer`: it takes a lock on every callback, event and
//! span alike, and panics when it wraps per-layer filters. Here the filter sits behind a lock
//! that no disabled event ever reaches: with static directives, tracing caches each callsite's
//! interest (`always` / `never`) and asks the layer nothing per event. A change swaps the filter
//! and has tracing rebuild that cache ([`tracing_core::callsite::rebuild_interest_cache`]), so
//! the next event of every callsite, on every thread, sees the new filter and a disabled one
//! costs exactly what it cost before. Only directives on spans or fields (`target[span]=debug`)
//! need the filter per event and per span callback; they take the read lock, as `EnvFilter`
//! itself takes its own then.

use std::sync::{
    atomic::{AtomicBool, AtomicUsize, Ordering},
    Arc, Mutex, OnceLock, PoisonError, RwLock,
};

use tracing_subscriber::filter::{EnvFilter, LevelFilter};

use super::{
    directives::{parse_directives, Directive, FilterConfig},
    scope::ScopeConfig,
};
use crate::settings::{env, ConfigError, Origin};

/// Distinguishes filters in per-thread caches: a new filter gets a new id, so what a thread
/// cached for the old one is not taken for the new one.
pub(crate) static FILTER_IDS: AtomicUsize = AtomicUsize::new(1);

/// A built filter and what it was built from.
pub(crate) struct ActiveFilter {
    pub(crate) env: EnvFilter,
    pub(crate) config: FilterConfig,
    /// The key of this filter in per-thread caches.
    pub(crate) cache_id: usize,
}

impl ActiveFilter {
    fn new(config: FilterConfig) -> Self {
        ActiveFilter {
            env: config.build(),
            config,
            cache_id: FILTER_IDS.fetch_add(1, Ordering::Relaxed),
        }
    }
}

/// The filter a layer reads, replaceable while it runs.
pub(crate) struct SharedFilter {
    current: RwLock<ActiveFilter>,
    /// Whether the current filter has span or field directives (read without the lock).
    dynamic: AtomicBool,
    /// The current filter's cache id (read without the lock).
    cache_id: AtomicUsize,
    /// The most verbose level request-scoped logging may write beyond the filter: the `log`
    /// crate's records below it must still reach the layer.
    beyond: LevelFilter,
}

impl SharedFilter {
    pub(crate) fn new(config: &FilterConfig, beyond: LevelFilter) -> Self {
        let filter = ActiveFilter::new(config.clone());
        SharedFilter {
            dynamic: AtomicBool::new(config.has_span_directives()),
            cache_id: AtomicUsize::new(filter.cache_id),
            current: RwLock::new(filter),
            beyond,
        }
    }

    /// The most verbose level at which any event may be written: the filter's, or beyond it
    /// for request-scoped logging (the level the `log` crate's records are cut at).
    pub(crate) fn max_event_level(&self) -> LevelFilter {
        self.with(|f| f.env.max_level_hint())
            .unwrap_or(LevelFilter::TRACE)
            .max(self.beyond)
    }

    /// The current filter's key in per-thread caches: a new one after every change.
    pub(crate) fn cache_id(&self) -> usize {
        self.cache_id.load(Ordering::Acquire)
    }

    /// Runs `f` with the current filter, under the read lock.
    #[inline]
    pub(crate) fn with<R>(&self, f: impl FnOnce(&ActiveFilter) -> R) -> R {
        f(&self.current.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Whether the filter needs to follow spans (has span or field directives).
    pub(crate) fn is_dynamic(&self) -> bool {
        self.dynamic.load(Ordering::Relaxed)
    }

    /// Passes a span callback on to the filter, which follows spans only when it has span or
    /// field directives: the one place the layer forwards what `EnvFilter` would see as a
    /// layer of its own (it cannot be one: spans at INFO and above exist whatever it says).
    #[inline]
    pub(crate) fn follow(&self, f: impl FnOnce(&EnvFilter)) {
        if self.is_dynamic() {
            self.with(|active| f(&active.env));
        }
    }

    fn replace(&self, config: FilterConfig) {
        let dynamic = config.has_span_directives();
        let filter = ActiveFilter::new(config);
        let id = filter.cache_id;
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = filter;
        self.dynamic.store(dynamic, Ordering::Relaxed);
        self.cache_id.store(id, Ordering::Release);
        // Every callsite's interest, and the global level hint, asked again of the new filter.
        tracing_core::callsite::rebuild_interest_cache();
        let level = self.max_event_level();
        tracing_log::log::set_max_level(tracing_log::AsLog::as_log(&level));
        let listeners = LEVEL_LISTENERS
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        for listener in listeners.iter() {
            listener(LevelFilter::current());
        }
    }
}

/// Called with the most verbose level anything may be logged at, after each filter change.
type LevelListener = Box<dyn Fn(LevelFilter) + Send + Sync>;

static LEVEL_LISTENERS: std::sync::Mutex<Vec<LevelListener>> = std::sync::Mutex::new(Vec::new());

/// Calls `listener` after every change of the filter with the most verbose level any line may
/// now be written at (the filter's, or a request's own level or capture, whichever is more):
/// for another language's logger, which checks its own level before handing records over (the
/// Python package keeps the root logger's level there; the `log` crate's is kept by the layer).
pub fn on_level_change(listener: impl Fn(LevelFilter) + Send + Sync + 'static) {
    LEVEL_LISTENERS
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(Box::new(listener));
}

/// What the handle changes the filter from.
struct Directives {
    /// The filter the process started with (or last read from its file on SIGHUP).
    startup: FilterConfig,
    /// The directives put on top of it with [`FilterHandle::set`], if any.
    put: Option<Vec<Directive>>,
}

/// A handle on a running layer's filter: read it, put directives on top of the one the process
/// started with, go back to that one, or re-read the configuration file. Every change applies
/// at once to every thread, and is logged at WARN (`log filter changed`, `from`, `to`).
#[derive(Clone)]
pub struct FilterHandle {
    shared: Arc<SharedFilter>,
    directives: Arc<Mutex<Directives>>,
    /// Whether lines are JSONL, and span events on (for `GET /logging`).
    output: (bool, bool),
    /// Request-scoped logging's settings (for `GET /logging`).
    scope: ScopeConfig,
}

impl std::fmt::Debug for FilterHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FilterHandle")
            .field("filter", &self.current())
            .finish()
    }
}

/// The handle of the installed subscriber's layer, set by `install`.
static INSTALLED: OnceLock<FilterHandle> = OnceLock::new();

/// The filter handle of the process's logging, once `logging::init` (or
/// `logging::Config::install`) has run.
pub fn filter_handle() -> Option<FilterHandle> {
    INSTALLED.get().cloned()
}

impl FilterHandle {
    pub(crate) fn new(shared: Arc<SharedFilter>) -> Self {
        let startup = shared.with(|f| f.config.clone());
        FilterHandle {
            shared,
            directives: Arc::new(Mutex::new(Directives { startup, put: None })),
            output: (false, false),
            scope: ScopeConfig::default(),
        }
    }

    pub(crate) fn with_output(
        mut self,
        jsonl: bool,
        span_events: bool,
        scope: ScopeConfig,
    ) -> Self {
        self.output = (jsonl, span_events);
        self.scope = scope;
        self
    }

    /// Request-scoped logging's settings (fixed at startup).
    pub fn scope(&self) -> ScopeConfig {
        self.scope.clone()
    }

    /// Whether lines are JSONL, and whether span events are written.
    pub fn output(&self) -> (bool, bool) {
        self.output
    }

    pub(crate) fn install_global(&self) {
        let _ = INSTALLED.set(self.clone());
    }

    /// The effective directives, lowest precedence first, comma-separated.
    pub fn current(&self) -> String {
        self.shared.with(|f| text(&f.config))
    }

    /// Puts `directives` (`DYN_LOG` syntax) on top of the filter the process started with, as
    /// if `DYN_LOG` had them too; returns the new effective filter. A bad value changes nothing
    /// and is the error `DYN_LOG` would give at startup.
    pub fn set(&self, directives: &str) -> Result<String, ConfigError> {
        let parsed = parse_directives(directives, &Origin::Env(env::DYN_LOG))?;
        let mut state = self.lock();
        let filter = state.startup.clone().overlay(parsed.clone());
        state.put = Some(parsed);
        Ok(self.apply(filter))
    }

    /// Goes back to the filter the process started with; returns it.
    pub fn reset(&self) -> String {
        let mut state = self.lock();
        state.put = None;
        self.apply(state.startup.clone())
    }

    /// Makes `startup` the filter the process started with (the configuration file was read
    /// again) and applies it, under directives put with [`set`](Self::set), if any; returns
    /// the new effective filter.
    pub fn reload(&self, startup: FilterConfig) -> String {
        let mut state = self.lock();
        let filter = match &state.put {
            Some(put) => startup.clone().overlay(put.clone()),
            None => startup.clone(),
        };
        state.startup = startup;
        self.apply(filter)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Directives> {
        self.directives
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn apply(&self, config: FilterConfig) -> String {
        let (from, to) = (self.current(), text(&config));
        self.shared.replace(config);
        if from != to {
            tracing::warn!(from, to, "log filter changed");
        }
        to
    }
}

fn text(config: &FilterConfig) -> String {
    config.directives().collect::<Vec<_>>().join(",")
}

#[cfg(test)]
mod tests {
    use tracing::{debug, info, info_span};
    use tracing_subscriber::layer::SubscriberExt;

    use crate::subscriber::{
        testing::{jsonl, parse_line},
        MemorySink, TracewireLayer,
    };

    #[test]
    fn a_new_filter_applies_at_once_and_a_bad_one_changes_nothing() {
        let sink = MemorySink::default();
        let layer = TracewireLayer::new(&jsonl(), sink.clone());
        let handle = layer.filter_handle();
        let startup = handle.current();
        let subscriber = tracing_subscriber::registry().with(layer);
        tracing::subscriber::with_default(subscriber, || {
            let debug_then = |n: u32| {
                info_span!("request").in_scope(|| debug!(n, "detail"));
            };
            debug_then(1);
            let to = handle.set("info,tracewire_runtime=debug").unwrap();
            assert!(to.ends_with(",tracewire_runtime=debug"), "{to}");
            debug_then(2);
            // A bad value: the startup error text, and the filter stays.
            let err = handle.set("info,inf").unwrap_err().to_string();
            assert!(
                err.starts_with("DYN_LOG: \"inf\": not a level nor target=level"),
                "{err}"
            );
            assert_eq!(handle.current(), to);
            debug_then(3);
            assert_eq!(handle.reset(), startup);
            debug_then(4);
            info!("still here");
        });
        let lines: Vec<_> = sink.lines().iter().map(|l| parse_line(l)).collect();
        let shown: Vec<u64> = lines
            .iter()
            .filter(|l| l.message == "detail")
            .map(|l| l["n"].as_u64().unwrap())
            .collect();
        assert_eq!(shown, [2, 3], "DEBUG only while the filter said so");
        let detail = lines.iter().find(|l| l.message == "detail").unwrap();
        assert!(
            detail.trace_id.is_some(),
            "inside its span, with its identity"
        );
        let changes: Vec<_> = lines
            .iter()
            .filter(|l| l.message == "log filter changed")
            .collect();
        assert_eq!(changes.len(), 2, "set and reset, not the refused one");
        assert_eq!(changes[0].level, "WARN");
        assert_eq!(changes[0]["from"], startup.as_str());
        assert_eq!(changes[1]["to"], startup.as_str());
        assert_eq!(
            lines.iter().filter(|l| l.message == "SPAN_CREATED").count(),
            4,
            "spans exist at any filter"
        );
    }
}
