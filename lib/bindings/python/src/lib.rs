//! `tracewire._tracewire`: the Rust half of the `tracewire` Python package (SPEC §11). The
//! Python half (`python/tracewire/__init__.py`) holds the `logging` handler, the current span
//! (a `contextvars.ContextVar`, so asyncio tasks never mix ids) and `serve_worker`'s asyncio
//! side; this module formats and writes the lines, makes the spans, and serves the worker
//! endpoint on a Tokio runtime of its own, without the GIL.

use pyo3::prelude::*;

mod host;
mod records;
mod spans;
mod values;
mod worker;

#[pymodule]
fn _tracewire(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(host::init_logging, m)?)?;
    m.add_function(wrap_pyfunction!(host::shutdown_logging, m)?)?;
    m.add_function(wrap_pyfunction!(host::max_level, m)?)?;
    m.add_function(wrap_pyfunction!(host::on_level_change, m)?)?;
    m.add_function(wrap_pyfunction!(records::emit, m)?)?;
    m.add_function(wrap_pyfunction!(records::enabled, m)?)?;
    m.add_class::<spans::Span>()?;
    m.add_function(wrap_pyfunction!(spans::new_span, m)?)?;
    m.add_function(wrap_pyfunction!(spans::context_of, m)?)?;
    m.add_function(wrap_pyfunction!(spans::inject, m)?)?;
    m.add_class::<worker::WorkerHandle>()?;
    m.add_class::<worker::TokenSink>()?;
    m.add_function(wrap_pyfunction!(worker::start_worker, m)?)?;
    Ok(())
}
