//! What the process hosting Python needs from the runtime: a Tokio runtime, logging installed
//! once (and flushed at exit), and Python's levels beside tracing's.

use std::sync::{Mutex, OnceLock, PoisonError};

use pyo3::{
    exceptions::{PyRuntimeError, PyValueError},
    prelude::*,
};
use tracewire_runtime::logging::{self, InitError, LoggingGuard};
use tracing::{level_filters::LevelFilter, Level};

/// The runtime the worker endpoint (and OTLP export) runs on, until the interpreter exits.
static RUNTIME: Mutex<Option<tokio::runtime::Runtime>> = Mutex::new(None);

/// A handle on the runtime, started on first use.
pub(crate) fn runtime() -> PyResult<tokio::runtime::Handle> {
    let mut runtime = RUNTIME.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(runtime) = runtime.as_ref() {
        return Ok(runtime.handle().clone());
    }
    let started = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("tracewire")
        .build()
        .map_err(|e| PyRuntimeError::new_err(format!("cannot start the async runtime: {e}")))?;
    let handle = started.handle().clone();
    *runtime = Some(started);
    Ok(handle)
}

/// The installed logging's guard: dropped by `shutdown_logging` (at interpreter exit), which
/// writes out every queued line.
static GUARD: Mutex<Option<LoggingGuard>> = Mutex::new(None);
static INSTALLED: OnceLock<()> = OnceLock::new();

/// Installs tracewire's logging from the environment (SPEC §1) once; returns the Python level
/// the root logger should have. A configuration error is a `ValueError` naming the variable or
/// file:line.
#[pyfunction]
pub(crate) fn init_logging(py: Python<'_>) -> PyResult<u32> {
    if INSTALLED.get().is_none() {
        let runtime = runtime()?;
        let guard = py.detach(|| {
            let _entered = runtime.enter();
            logging::init()
        });
        let guard = guard.map_err(|e| match e {
            InitError::Config(e) => {
                PyValueError::new_err(format!("tracewire: configuration error: {e}"))
            }
            e => PyRuntimeError::new_err(format!("tracewire: cannot start logging: {e}")),
        })?;
        *GUARD.lock().unwrap_or_else(PoisonError::into_inner) = Some(guard);
        let _ = INSTALLED.set(());
    }
    Ok(python_level(LevelFilter::current()))
}

/// At interpreter exit: writes out every queued line and span (nothing is logged after it),
/// then stops the runtime's tasks, for at most a second. The runtime is shut down here, before
/// the interpreter finalizes, so that no thread of it is left running while the process exits.
#[pyfunction]
pub(crate) fn shutdown_logging(py: Python<'_>) {
    let runtime = RUNTIME
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .take();
    let guard = GUARD.lock().unwrap_or_else(PoisonError::into_inner).take();
    py.detach(|| {
        // The guard first, while export can still run on the runtime (as `run_main` does).
        drop(guard);
        if let Some(runtime) = runtime {
            runtime.shutdown_timeout(std::time::Duration::from_secs(1));
        }
    });
}

/// The Python level of the most verbose line anything may write now.
#[pyfunction]
pub(crate) fn max_level() -> u32 {
    python_level(LevelFilter::current())
}

/// Calls `callback(level)` after each change of the filter (the system server's `PUT
/// /logging/filter`, SIGHUP) with the new Python level.
#[pyfunction]
pub(crate) fn on_level_change(callback: Py<PyAny>) {
    let callback = std::sync::Arc::new(callback);
    logging::on_level_change(move |level| {
        let callback = std::sync::Arc::clone(&callback);
        let level = python_level(level);
        // Not on the thread that changed the filter, which holds the listeners' lock: the GIL
        // is taken where no lock is held.
        std::thread::spawn(move || {
            // Not at all once the interpreter is shutting down.
            Python::try_attach(|py| {
                if let Err(e) = callback.call1(py, (level,)) {
                    e.print(py);
                }
            })
        });
    });
}

/// Python's number for a tracing level filter (TRACE is 5, below DEBUG; off is above
/// CRITICAL).
pub(crate) fn python_level(level: LevelFilter) -> u32 {
    match level.into_level() {
        None => 100,
        Some(Level::ERROR) => 40,
        Some(Level::WARN) => 30,
        Some(Level::INFO) => 20,
        Some(Level::DEBUG) => 10,
        Some(Level::TRACE) => 5,
    }
}

/// tracing's level for a Python level number (CRITICAL is ERROR, below DEBUG is TRACE).
pub(crate) fn tracing_level(levelno: i64) -> Level {
    match levelno {
        40.. => Level::ERROR,
        30..=39 => Level::WARN,
        20..=29 => Level::INFO,
        10..=19 => Level::DEBUG,
        _ => Level::TRACE,
    }
}
