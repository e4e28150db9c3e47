"""tracewire for Python: the same logging, spans and trace identity as tracewire's Rust
services (SPEC §11), formatted and written by the Rust runtime.

- :func:`init_logging` configures from ``DYN_LOG``, ``DYN_LOGGING_JSONL``,
  ``DYN_LOGGING_CONFIG_PATH``… (the variables of the Rust services) and routes the standard
  :mod:`logging` module into tracewire: a record becomes a line with ``target`` ``"log"``,
  ``log.target`` (the logger's name), ``log.file``, ``log.line``, its ``extra={...}`` fields in
  their JSON types, ``exception`` with the traceback, and the trace identity of the span current
  in its context.
- :func:`span` opens a span (``with`` or ``async with``), a child of the current one.
- :func:`current_context` and :func:`inject` give the current span's identity and the headers
  a call made on its behalf carries; :func:`otel_context` gives it as an OpenTelemetry context,
  so that an engine's own OpenTelemetry spans are its children.
- :func:`serve_worker` serves the worker endpoint of ``tracewire-worker`` in Rust, with a Python
  async generator as the engine.

The current span is a :class:`contextvars.ContextVar`: each asyncio task has its own, so lines
of concurrent requests never mix ids.
"""

from __future__ import annotations

import asyncio
import atexit
import contextvars
import functools
import logging
import signal
import sys
import traceback
from typing import Any, AsyncIterator, Awaitable, Callable, Dict, Optional, Union

from . import _tracewire
from ._tracewire import Span

__all__ = [
    "CLIENT_LOGS_HEADER",
    "CLIENT_LOGS_TOKEN_HEADER",
    "Finish",
    "Handler",
    "Span",
    "current_context",
    "init_logging",
    "inject",
    "otel_context",
    "client_logs",
    "serve_worker",
    "span",
    "with_client_logs",
]

#: The span current in this context (an asyncio task, a thread), or None.
_current: contextvars.ContextVar[Optional[Span]] = contextvars.ContextVar(
    "tracewire_span", default=None
)

_emit = _tracewire.emit


class Handler(logging.Handler):
    """Writes :mod:`logging` records as tracewire lines, inside the current span.

    :func:`init_logging` puts one on the root logger; add it elsewhere only for loggers that do
    not propagate to the root. The handler takes no lock (the Rust writer is thread-safe) and
    formats nothing in Python: level, logger, file, line, ``extra`` fields and traceback are
    read from the record in Rust.
    """

    def handle(self, record: logging.LogRecord) -> Union[bool, logging.LogRecord]:
        if self.filters:
            rv = self.filter(record)
            if not rv:
                return rv
            if isinstance(rv, logging.LogRecord):
                record = rv
        _emit(record, _current.get())
        return record

    def emit(self, record: logging.LogRecord) -> None:
        _emit(record, _current.get())


_installed = False


def init_logging() -> None:
    """Configures tracewire's logging from the environment, once, and routes :mod:`logging`
    into it.

    The root logger gets a :class:`Handler` in place of its handlers (as
    ``logging.basicConfig(force=True)`` would) and the level of the most verbose line the
    ``DYN_LOG`` filter (or a request's own level, or capture) may write; the level follows the
    filter when it changes at run time (the system server's ``PUT /logging/filter``, SIGHUP).
    Queued lines are written out at interpreter exit.

    Raises ``ValueError`` naming the variable (or file:line) if the configuration is wrong.
    """
    global _installed
    level = _tracewire.init_logging()
    root = logging.getLogger()
    for handler in list(root.handlers):
        if not isinstance(handler, Handler):
            root.removeHandler(handler)
    if not any(isinstance(h, Handler) for h in root.handlers):
        root.addHandler(Handler())
    root.setLevel(level)
    if not _installed:
        _installed = True
        _tracewire.on_level_change(root.setLevel)
        atexit.register(_tracewire.shutdown_logging)


class span:
    """A span, child of the current one, current inside the block::

        with tracewire.span("prefill", tokens=128):
            ...
        async with tracewire.span("decode"):
            ...

    Its lines are ``SPAN_CREATED`` and ``SPAN_CLOSED`` (with ``time.busy_us``, the time spent
    inside a ``with`` block on its thread; an ``async with`` block counts as idle, since other
    tasks run while it waits). ``fields`` are ``str``, ``int``, ``float`` or ``bool`` (anything
    else is written as its ``repr()``). Its target is the calling module's name.
    """

    __slots__ = ("_name", "_fields", "_target", "_span", "_token")

    def __init__(self, name: str, /, **fields: Any) -> None:
        self._name = name
        self._fields = fields
        self._target = sys._getframe(1).f_globals.get("__name__", "python")
        self._span: Optional[Span] = None
        self._token: Optional[contextvars.Token] = None

    def _open(self) -> Span:
        self._span = _tracewire.new_span(self._name, self._target, self._fields, _current.get())
        self._token = _current.set(self._span)
        return self._span

    def _close(self) -> None:
        if self._token is not None:
            _current.reset(self._token)
        if self._span is not None:
            self._span.close()

    def __enter__(self) -> Span:
        opened = self._open()
        opened.enter()
        return opened

    def __exit__(self, *exc: Any) -> None:
        if self._span is not None:
            self._span.exit()
        self._close()

    async def __aenter__(self) -> Span:
        return self._open()

    async def __aexit__(self, *exc: Any) -> None:
        self._close()


def current_context() -> Optional[Dict[str, Optional[str]]]:
    """``{"trace_id": …, "span_id": …, "x_request_id": …}`` of the current span (ids in
    lowercase hex, ``x_request_id`` None when the request had none), or None outside spans."""
    return _tracewire.context_of(_current.get())


def otel_context(context: Any = None) -> Any:
    """An :class:`opentelemetry.context.Context` whose current span is tracewire's current span
    (same ``trace_id``, its ``span_id``, its sampled flag and ``tracestate``), on top of
    ``context`` (the current OpenTelemetry context by default). An engine's spans started with
    it, ``tracer.start_as_current_span("prefill", context=tracewire.otel_context())``, are
    children of the span this request runs in (``handle_payload`` in a worker) in the same
    trace. Outside a tracewire span, ``context`` itself: the engine's span starts a trace.

    The tracewire span is given as a non-recording, remote span context: it is not the SDK's
    own span, tracewire's runtime records and exports it, as another service would.

    Needs ``opentelemetry-api`` (``pip install opentelemetry-api``); without it, an
    :class:`ImportError` that says so."""
    try:
        from opentelemetry import context as otel
        from opentelemetry import trace
    except ImportError as e:
        raise ImportError(
            "tracewire.otel_context() needs the OpenTelemetry API: pip install opentelemetry-api"
        ) from e
    base = otel.get_current() if context is None else context
    headers = inject({})
    traceparent = headers.get("traceparent")
    if traceparent is None:
        return base
    _, trace_id, span_id, flags = traceparent.split("-")
    state = headers.get("tracestate")
    span_context = trace.SpanContext(
        trace_id=int(trace_id, 16),
        span_id=int(span_id, 16),
        is_remote=True,
        trace_flags=trace.TraceFlags(int(flags, 16)),
        trace_state=trace.TraceState.from_header([state]) if state else trace.TraceState(),
    )
    return trace.set_span_in_context(trace.NonRecordingSpan(span_context), base)


#: The request header asking for a request's own log lines back (SPEC §13), at a level.
CLIENT_LOGS_HEADER = "x-tracewire-logs"
#: The header carrying the token the server's ``DYN_LOG_CLIENT_TOKEN`` asks for.
CLIENT_LOGS_TOKEN_HEADER = "x-tracewire-logs-token"

_LOG_KEYS = ("time", "level", "message")


def _as_dict(item: Any) -> Any:
    """A parsed value as a dict: an OpenAI client's model (``to_dict``) or the value itself."""
    to_dict = getattr(item, "to_dict", None)
    return to_dict() if callable(to_dict) else item


def _is_log_line(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and all(k in value for k in _LOG_KEYS)
        and "choices" not in value
    )


def client_logs(answer: Any) -> list:
    """The log lines a JSON answer carries in ``tracewire_logs`` (a dict, or an OpenAI client's
    completion object), as dicts; ``[]`` when it has none."""
    extra = getattr(answer, "model_extra", None)
    if isinstance(extra, dict) and "tracewire_logs" in extra:
        return list(extra["tracewire_logs"] or [])
    answer = _as_dict(answer)
    if isinstance(answer, dict):
        return list(answer.get("tracewire_logs") or [])
    return []


def with_client_logs(stream: Any, on_log: Callable[[Dict[str, Any]], None]) -> Any:
    """Reads a streamed answer asked with ``x-tracewire-logs``: calls ``on_log(line)`` for each
    ``tracewire.log`` line and yields everything else, as vgi-rpc's client calls ``on_log``.

    ``stream`` is an OpenAI client's stream (``client.chat.completions.create(...,
    stream=True, extra_headers={CLIENT_LOGS_HEADER: "debug"})``, whose iteration hands the log
    events over as chunk objects without ``choices``: they are taken out), or the lines of a
    raw SSE body (``str`` or ``bytes``, as ``response.iter_lines()`` gives them), in which case
    the ``data`` of the other events is yielded, parsed, up to ``[DONE]``."""
    import json

    event = None
    for item in stream:
        if isinstance(item, (bytes, str)):
            line = item.decode() if isinstance(item, bytes) else item
            line = line.rstrip("\r\n")
            if not line:
                event = None
            elif line.startswith("event:"):
                event = line[len("event:"):].strip()
            elif line.startswith("data:"):
                data = line[len("data:"):].strip()
                if data == "[DONE]":
                    return
                value = json.loads(data)
                if event == "tracewire.log":
                    on_log(value)
                else:
                    yield value
            continue
        value = _as_dict(item)
        if _is_log_line(value):
            on_log(value)
        else:
            yield item


def inject(headers: Dict[str, str]) -> Dict[str, str]:
    """Writes the current span's ``traceparent``, ``tracestate``, ``x-request-id`` (and
    ``baggage``) into ``headers``, for a call made on its behalf; nothing outside spans.
    Returns ``headers``."""
    return _tracewire.inject(headers, _current.get())


class Finish:
    """Yielded last by a ``generate`` generator to end the call with this ``finish_reason``
    (``"length"`` when it stopped at ``max_tokens``); a generator that just returns ends with
    ``"stop"``."""

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def __repr__(self) -> str:
        return f"Finish({self.reason!r})"


Generate = Callable[[Dict[str, Any]], AsyncIterator[Union[str, Finish]]]


async def _drive(generate: Generate, request: Dict[str, Any], sink: Any, current: Span) -> None:
    """One generation, as its own asyncio task: ``generate(request)``'s yields to ``sink``."""
    _current.set(current)
    try:
        tokens = generate(request)
        if not hasattr(tokens, "__anext__"):
            raise TypeError(
                f"generate must be an async generator function, it returned {type(tokens).__name__}"
            )
        try:
            async for token in tokens:
                if isinstance(token, Finish):
                    sink.finish(token.reason)
                    return
                if not isinstance(token, str):
                    raise TypeError(f"generate must yield str, it yielded {type(token).__name__}")
                while True:
                    sent = sink.send(token)
                    if sent is True:
                        break
                    if sent is False:
                        return
                    await sent
        finally:
            aclose = getattr(tokens, "aclose", None)
            if aclose is not None:
                await aclose()
    except asyncio.CancelledError:
        raise
    except BaseException as e:  # the engine failed: the caller gets an error message
        sink.fail(
            f"{type(e).__name__}: {e}",
            "".join(traceback.format_exception(type(e), e, e.__traceback__)).rstrip("\n"),
        )
    finally:
        sink.finish()
        # The span's Python handle goes now: the task's context may outlive it (a span is
        # closed when no handle is left).
        current.close()


def _wake(future: "asyncio.Future[None]") -> None:
    if not future.done():
        future.set_result(None)


async def _serve(
    generate: Generate,
    model: str,
    namespace: str,
    component: str,
    endpoint: str,
    listen: str,
) -> None:
    init_logging()
    loop = asyncio.get_running_loop()
    stopped: "asyncio.Future[Optional[str]]" = loop.create_future()

    def finished(error: Optional[str]) -> None:
        if not stopped.done():
            stopped.set_result(error)

    handle = _tracewire.start_worker(
        functools.partial(_drive, generate),
        loop,
        _wake,
        lambda error: loop.call_soon_threadsafe(finished, error),
        model=model,
        namespace=namespace,
        component=component,
        endpoint=endpoint,
        listen=listen,
    )
    signals = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(sig, handle.stop)
            signals.append(sig)
        except (NotImplementedError, RuntimeError, ValueError):
            pass  # not the main thread, or no signals here: stop by cancelling
    try:
        error = await asyncio.shield(stopped)
    except asyncio.CancelledError:
        handle.stop()
        await stopped
        raise
    finally:
        for sig in signals:
            loop.remove_signal_handler(sig)
    if error is not None:
        raise RuntimeError(f"the worker failed: {error}")


def serve_worker(
    generate: Generate,
    *,
    model: str,
    namespace: str = "dynamo",
    component: str = "backend",
    endpoint: str = "generate",
    listen: str = "127.0.0.1:9090",
) -> Union[None, Awaitable[None]]:
    """Serves the worker endpoint (SPEC §6: ``POST /<endpoint>``, ``GET /info``, ``GET
    /health``; with ``ETCD_ENDPOINTS`` and ``NATS_SERVER`` set, registered in etcd and called over
    NATS, SPEC §10) through tracewire's Rust runtime, until SIGTERM or SIGINT.

    For each call it opens the ``handle_payload`` span (continuing the caller's trace) and runs
    ``generate(request)`` in it, an async generator function given ``{"model", "prompt",
    "max_tokens"}`` that yields each token's text; the call ends with ``done`` when it returns
    (``finish_reason`` ``stop``), or with the reason of a :class:`Finish` it yields. An exception
    becomes the protocol's error message (``"Type: message"``) and an ERROR line with the
    traceback. A caller that leaves cancels the generator's task.

    Called from a coroutine, it returns an awaitable; called outside an event loop, it runs one
    (``asyncio.run``) until the worker stops. Calls :func:`init_logging` first.
    """
    serving = _serve(generate, model, namespace, component, endpoint, listen)
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(serving)
    return serving
