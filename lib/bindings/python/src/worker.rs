//! `serve_worker`'s Rust half: the worker endpoint of `tracewire-worker` (the same code: HTTP,
//! or etcd and NATS when configured), whose engine is a Python async generator run on the
//! caller's asyncio loop. Tokens come back through a bounded channel; the GIL is taken only to
//! start a generation, to wake a generator waiting for room, and to cancel one whose caller
//! left.

use std::{
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use futures_util::{stream, StreamExt};
use pyo3::{
    exceptions::PyValueError,
    prelude::*,
    types::{PyBool, PyDict},
};
use tokio::sync::{mpsc, watch};
use tracewire_runtime::{
    plane::{
        distributed::DistributedConfig,
        worker::{Engine, EngineError, Step, Steps, WorkerConfig},
        GenerateRequest,
    },
    serve::{parse_listen, run_service, ServeOptions, SystemOptions},
};

use crate::{host::runtime, spans::Span};

/// How many tokens may wait between the generator and the connection.
const TOKENS_IN_FLIGHT: usize = 16;

/// Starts serving; `driver(request, sink, span)` returns the coroutine that runs one
/// generation on `event_loop`, `wake(future)` resolves a future a generator waits on for room,
/// and `done(error)` is called once when the endpoint has stopped (`None`, or the error's text).
#[pyfunction]
#[pyo3(signature = (driver, event_loop, wake, done, *, model, namespace, component, endpoint, listen))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn start_worker(
    driver: Py<PyAny>,
    event_loop: Py<PyAny>,
    wake: Py<PyAny>,
    done: Py<PyAny>,
    model: String,
    namespace: String,
    component: String,
    endpoint: String,
    listen: &str,
) -> PyResult<WorkerHandle> {
    let listen = parse_listen(listen).map_err(|e| PyValueError::new_err(format!("listen: {e}")))?;
    let configuration = |e: tracewire_runtime::settings::ConfigError| {
        PyValueError::new_err(format!("tracewire: configuration error: {e}"))
    };
    let options = ServeOptions::from_env().map_err(configuration)?;
    let distributed = DistributedConfig::from_env().map_err(configuration)?;
    let system = SystemOptions::from_env().map_err(configuration)?;
    let config = WorkerConfig {
        namespace,
        component,
        endpoint,
        model,
        token_delay: Duration::ZERO,
        instance_id: None,
    };
    let engine = Arc::new(PythonEngine {
        driver,
        event_loop: Arc::new(event_loop),
        wake: Arc::new(wake),
    });
    let (stop, stopped) = watch::channel(false);
    let shutdown = async move {
        let mut stopped = stopped;
        let _ = stopped.wait_for(|s| *s).await;
    };
    runtime()?.spawn(async move {
        let served = run_service("worker", system, || {
            tracewire_runtime::plane::run_worker(
                config,
                engine,
                listen,
                options,
                distributed,
                shutdown,
            )
        })
        .await;
        let error = served.err().map(|e| e.to_string());
        // Tokio's threads never attach to an interpreter that is shutting down.
        Python::try_attach(|py| {
            if let Err(e) = done.call1(py, (error,)) {
                e.print(py);
            }
        });
    });
    Ok(WorkerHandle { stop })
}

/// A running worker endpoint.
#[pyclass(module = "tracewire", frozen)]
pub(crate) struct WorkerHandle {
    stop: watch::Sender<bool>,
}

#[pymethods]
impl WorkerHandle {
    /// Stops it as SIGTERM stops `tracewire-worker`: deregistered, then calls in flight drain.
    fn stop(&self) {
        let _ = self.stop.send(true);
    }
}

/// The engine whose generations are Python async generators.
struct PythonEngine {
    driver: Py<PyAny>,
    event_loop: Arc<Py<PyAny>>,
    wake: Arc<Py<PyAny>>,
}

impl Engine for PythonEngine {
    fn generate(&self, request: GenerateRequest) -> Steps {
        let (tx, rx) = mpsc::channel(TOKENS_IN_FLIGHT);
        let end = Arc::new(Mutex::new(None));
        let sink = TokenSink {
            tx: Mutex::new(Some(tx)),
            end: Arc::clone(&end),
            event_loop: Arc::clone(&self.event_loop),
            wake: Arc::clone(&self.wake),
            // Called on the runtime: its waits for room are spawned there.
            runtime: tokio::runtime::Handle::current(),
        };
        // Called in the handle_payload span: the generator's context gets it as its current
        // span.
        let started = Python::try_attach(|py| -> PyResult<Running> {
            // The generation's handle on its span, released when the generation ends: a
            // Python object the task's context keeps alive must not keep the span open.
            let span = Py::new(py, Span::new(tracing::Span::current()))?;
            let body = PyDict::new(py);
            body.set_item("model", &request.model)?;
            body.set_item("prompt", &request.prompt)?;
            body.set_item("max_tokens", request.max_tokens)?;
            let mut running = Running {
                future: None,
                span: span.clone_ref(py),
            };
            let coroutine = self.driver.call1(py, (body, sink, span))?;
            let asyncio = py.import("asyncio")?;
            let future = asyncio.call_method1(
                "run_coroutine_threadsafe",
                (coroutine, self.event_loop.bind(py)),
            )?;
            running.future = Some(future.unbind());
            Ok(running)
        });
        let running = match started {
            Some(Ok(running)) => running,
            Some(Err(e)) => {
                let error = Python::try_attach(|py| engine_error(py, &e)).unwrap_or(EngineError {
                    message: e.to_string(),
                    detail: None,
                });
                return Box::pin(stream::iter([Err(error)]));
            }
            None => {
                let error = EngineError {
                    message: "the Python interpreter is shutting down".into(),
                    detail: None,
                };
                return Box::pin(stream::iter([Err(error)]));
            }
        };
        let tokens = stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|text| (Ok(Step::Token(text)), rx))
        });
        // After the last token: the generator's exception if it raised, or its finish reason
        // if it gave one (else the stream's end means `stop`).
        let end =
            stream::once(async move { end.lock().unwrap_or_else(PoisonError::into_inner).take() })
                .filter_map(|end| async move {
                    end.map(|end| end.map(|finish_reason| Step::Done { finish_reason }))
                });
        // The generation is cancelled when the stream is dropped (the caller left, or the
        // drain deadline passed).
        Box::pin(tokens.chain(end).map(move |step| {
            let _ = &running;
            step
        }))
    }
}

/// A generation's asyncio future, cancelled when dropped (a finished one ignores it), and its
/// span's Python handle: the task releases it when it ends (`_drive`'s `finally`, after a
/// cancelled generator's own cleanup), or this does if the task never started.
struct Running {
    future: Option<Py<PyAny>>,
    span: Py<Span>,
}

impl Drop for Running {
    fn drop(&mut self) {
        match self.future.take() {
            Some(future) => {
                Python::try_attach(|py| {
                    let _ = future.call_method0(py, "cancel");
                });
            }
            // Never started: nothing else will release it.
            None => drop(self.span.get().release()),
        }
    }
}

/// The caller's side of a Python exception that escaped the engine: `Type: message` to the
/// caller, the traceback to the ERROR line.
fn engine_error(py: Python<'_>, e: &PyErr) -> EngineError {
    let message = e.to_string();
    let detail = e
        .traceback(py)
        .and_then(|tb| tb.format().ok())
        .map(|tb| format!("{tb}{message}"));
    EngineError { message, detail }
}

/// Where a generation's tokens go (`send`), and how it ends (`finish`, `fail`).
#[pyclass(module = "tracewire", frozen)]
pub(crate) struct TokenSink {
    tx: Mutex<Option<mpsc::Sender<String>>>,
    /// How the generation ended, if not by just stopping: a finish reason, or a failure.
    end: Arc<Mutex<Option<Result<String, EngineError>>>>,
    event_loop: Arc<Py<PyAny>>,
    wake: Arc<Py<PyAny>>,
    runtime: tokio::runtime::Handle,
}

#[pymethods]
impl TokenSink {
    /// Sends a token: `True` when sent, `False` when the caller is gone (stop generating), or
    /// an asyncio future to await when the tokens in flight are at their bound (then send again).
    fn send(&self, py: Python<'_>, text: String) -> PyResult<Py<PyAny>> {
        let guard = self.tx.lock().unwrap_or_else(PoisonError::into_inner);
        let sent = match guard.as_ref().map(|tx| (tx, tx.try_send(text))) {
            None | Some((_, Err(mpsc::error::TrySendError::Closed(_)))) => false,
            Some((_, Ok(()))) => true,
            Some((tx, Err(mpsc::error::TrySendError::Full(_)))) => {
                let future = self.event_loop.call_method0(py, "create_future")?;
                let (tx, event_loop, wake) = (
                    tx.clone(),
                    Arc::clone(&self.event_loop),
                    Arc::clone(&self.wake),
                );
                let waiting = future.clone_ref(py);
                self.runtime.spawn(async move {
                    // Room again, or the caller gone: either way the generator looks again.
                    let _ = tx.reserve().await;
                    Python::try_attach(|py| {
                        let _ = event_loop.call_method1(
                            py,
                            "call_soon_threadsafe",
                            (wake.clone_ref(py), waiting),
                        );
                    });
                });
                return Ok(future);
            }
        };
        Ok(PyBool::new(py, sent).to_owned().into_any().unbind())
    }

    /// The generator ended: the call ends with `done`, its `finish_reason` `reason` (`stop` if
    /// `None`). The first end said is kept.
    #[pyo3(signature = (reason=None))]
    fn finish(&self, reason: Option<String>) {
        if let Some(reason) = reason {
            self.end
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .get_or_insert(Ok(reason));
        }
        self.tx
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
    }

    /// The generator raised: the call ends with the protocol's error message (`message`) and an
    /// ERROR line with `traceback`.
    fn fail(&self, message: String, traceback: String) {
        *self.end.lock().unwrap_or_else(PoisonError::into_inner) = Some(Err(EngineError {
            message,
            detail: Some(traceback),
        }));
        self.finish(None);
    }
}
