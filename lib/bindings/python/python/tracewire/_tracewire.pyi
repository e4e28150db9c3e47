"""Type stubs of tracewire's native module (the Rust half of the package)."""

from typing import Any, Awaitable, Callable, Dict, Optional, Union
import asyncio
import logging

class Span:
    """A tracewire span: SPAN_CREATED when made, SPAN_CLOSED when closed."""

    def enter(self) -> None:
        """Marks the span entered on this thread (its time counts as busy)."""
    def exit(self) -> None:
        """Marks the span exited on this thread."""
    def close(self) -> None:
        """Closes the span (SPAN_CLOSED once its children are closed too)."""
    def context(self) -> Optional[Dict[str, Optional[str]]]:
        """trace_id, span_id and x_request_id of the span, or None once closed."""

class WorkerHandle:
    """A running worker endpoint."""

    def stop(self) -> None:
        """Stops it as SIGTERM stops tracewire-worker: deregistered, then calls drain."""

class TokenSink:
    """Where a generation's tokens go."""

    def send(self, text: str) -> Union[bool, "asyncio.Future[None]"]:
        """True when sent, False when the caller is gone, or a future to await for room."""
    def finish(self, reason: Optional[str] = None) -> None:
        """The generator ended: the call ends with done (finish_reason reason, or stop)."""
    def fail(self, message: str, traceback: str) -> None:
        """The generator raised: the call ends with an error message and an ERROR line."""

def init_logging() -> int:
    """Installs tracewire's logging from the environment once; returns the root logger's level.
    Raises ValueError naming the variable or file:line on a configuration error."""
def shutdown_logging() -> None:
    """Writes out every queued line and span."""
def max_level() -> int:
    """The Python level of the most verbose line anything may write now."""
def on_level_change(callback: Callable[[int], Any]) -> None:
    """Calls callback(level) after each change of the filter."""
def emit(record: logging.LogRecord, span: Optional[Span] = None) -> None:
    """Writes a logging record inside span (or outside spans)."""
def enabled(levelno: int, logger: str) -> bool:
    """Whether a record of this level from this logger would be written now."""
def new_span(
    name: str, target: str, fields: Optional[Dict[str, Any]] = None, parent: Optional[Span] = None
) -> Span:
    """A span at INFO, child of parent (or a new trace)."""
def context_of(span: Optional[Span] = None) -> Optional[Dict[str, Optional[str]]]:
    """The identity of span, or None."""
def inject(headers: Dict[str, str], span: Optional[Span] = None) -> Dict[str, str]:
    """Writes span's traceparent, tracestate, x-request-id and baggage into headers."""
def start_worker(
    driver: Callable[[Dict[str, Any], TokenSink, Span], Awaitable[None]],
    event_loop: asyncio.AbstractEventLoop,
    wake: Callable[["asyncio.Future[None]"], None],
    done: Callable[[Optional[str]], Any],
    *,
    model: str,
    namespace: str,
    component: str,
    endpoint: str,
    listen: str,
) -> WorkerHandle:
    """Starts serving the worker endpoint with a Python engine."""
