"""The tracewire package in a fresh interpreter per case: what its lines say, parsed as JSON."""

import json
import os
import subprocess
import sys
import textwrap

# Variables of the environment the cases control themselves.
CONTROLLED = [k for k in os.environ if k.startswith(("DYN_", "OTEL_", "ETCD_", "NATS_"))]


def run(script, **env):
    """Runs `script` in a new interpreter with `env`; returns (JSON lines, stderr, exit code)."""
    lines, err, code, _ = run_with_output(script, **env)
    return lines, err, code


def run_with_output(script, **env):
    """As `run`, and what the script printed."""
    environment = {k: v for k, v in os.environ.items() if k not in CONTROLLED}
    environment.setdefault("DYN_LOGGING_JSONL", "true")
    environment.update(env)
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )
    lines = []
    for line in done.stderr.splitlines():
        if line.startswith("{"):
            lines.append(json.loads(line))
    return lines, done.stderr, done.returncode, done.stdout


def test_records_are_log_lines_with_logger_file_line_and_mapped_levels():
    lines, err, code = run(
        """
        import logging, tracewire
        tracewire.init_logging()
        log = logging.getLogger("vllm.engine")
        log.info("loaded %s in %.1f s", "Qwen/Qwen3-0.6B", 2.5)
        log.warning("slow")
        log.critical("down")
        log.debug("hidden at info")
        """
    )
    assert code == 0, err
    assert [l["level"] for l in lines] == ["INFO", "WARN", "ERROR"]
    first = lines[0]
    assert first["target"] == "log"
    assert first["message"] == "loaded Qwen/Qwen3-0.6B in 2.5 s"
    assert first["log.target"] == "vllm.engine"
    assert first["log.file"] == "<string>"
    assert first["log.line"] == 5
    assert "file" not in first and "line" not in first


def test_records_read_as_logging_reads_them_subclasses_objects_and_changed_attributes():
    lines, err, code = run(
        """
        import logging, tracewire
        tracewire.init_logging()

        class Shouting(logging.LogRecord):
            def getMessage(self):
                return super().getMessage().upper()

        class Point:
            def __str__(self):
                return "(1, 2)"

        log = logging.getLogger("engine")
        log.info(Point())
        log.info("%d%%", 50)
        record = log.makeRecord("engine", logging.WARNING, "/src/a.py", 7, "as %s", ("made",), None)
        record.name = "renamed"
        record.msg = "changed %s"
        log.handle(record)
        logging.setLogRecordFactory(Shouting)
        log.info("quiet %s", "words", extra={"k": 1})
        """
    )
    assert code == 0, err
    assert [l["message"] for l in lines] == ["(1, 2)", "50%", "changed made", "QUIET WORDS"]
    assert lines[2]["log.target"] == "renamed" and lines[2]["level"] == "WARN"
    assert lines[2]["log.file"] == "/src/a.py" and lines[2]["log.line"] == 7
    assert lines[3]["k"] == 1 and lines[3]["log.target"] == "engine"


def test_dyn_log_directives_apply_to_logger_names():
    lines, err, code = run(
        """
        import logging, tracewire
        tracewire.init_logging()
        logging.getLogger("vllm.scheduler").debug("shown")
        logging.getLogger("vllm.scheduler").log(5, "trace hidden")
        logging.getLogger("sglang").debug("hidden")
        logging.getLogger("vllm.noisy").info("hidden too")
        """,
        DYN_LOG="info,vllm=debug,vllm.noisy=warn",
    )
    assert code == 0, err
    assert [(l["log.target"], l["message"]) for l in lines] == [("vllm.scheduler", "shown")]


def test_extra_fields_keep_their_json_types():
    lines, err, code = run(
        """
        import logging, tracewire
        tracewire.init_logging()
        logging.getLogger("engine").info("batch", extra={
            "tokens": 128, "ratio": 0.25, "warm": True, "model": "m",
            "huge": 2**64 + 1, "ids": [1, 2], "nothing": None, "level": "mine",
            "sampling": {"temperature": 0.7, "stop": ["</s>"], "seed": None}, "when": object,
        })
        """
    )
    assert code == 0, err
    (line,) = lines
    assert line["tokens"] == 128 and line["ratio"] == 0.25 and line["warm"] is True
    assert line["model"] == "m"
    assert line["huge"] == str(2**64 + 1)
    assert line["ids"] == "[1, 2]" and line["nothing"] == "None"
    assert json.loads(line["sampling"]) == {"temperature": 0.7, "stop": ["</s>"], "seed": None}
    assert line["when"] == "<class 'object'>"
    assert line["fields.level"] == "mine" and line["level"] == "INFO"


def test_exc_info_is_an_exception_field_with_the_traceback():
    lines, err, code = run(
        """
        import logging, tracewire
        tracewire.init_logging()
        try:
            {}["missing"]
        except KeyError:
            logging.getLogger("engine").exception("lookup failed")
        """
    )
    assert code == 0, err
    (line,) = lines
    assert line["level"] == "ERROR" and line["message"] == "lookup failed"
    assert line["exception"].startswith("Traceback (most recent call last):")
    assert line["exception"].endswith("KeyError: 'missing'")


def test_concurrent_asyncio_tasks_never_mix_their_spans():
    lines, err, code = run(
        """
        import asyncio, logging, tracewire
        tracewire.init_logging()
        log = logging.getLogger("engine")

        async def request(name, pause):
            async with tracewire.span("request", name=name):
                for step in range(3):
                    await asyncio.sleep(pause)
                    log.info("step", extra={"who": name, "step": step})

        async def main():
            await asyncio.gather(request("a", 0.003), request("b", 0.002))

        asyncio.run(main())
        """
    )
    assert code == 0, err
    created = {l["name"]: l for l in lines if l["message"] == "SPAN_CREATED"}
    assert created["a"]["trace_id"] != created["b"]["trace_id"]
    steps = [l for l in lines if l["message"] == "step"]
    assert len(steps) == 6
    order = [l["who"] for l in steps]
    assert order != sorted(order), "the tasks interleave"
    for line in steps:
        mine = created[line["who"]]
        assert (line["trace_id"], line["span_id"]) == (mine["trace_id"], mine["span_id"])


def test_spans_nest_close_and_time_their_with_blocks():
    lines, err, code = run(
        """
        import logging, time, tracewire
        tracewire.init_logging()
        with tracewire.span("prefill", tokens=7):
            with tracewire.span("attention"):
                time.sleep(0.01)
                logging.getLogger("engine").info("inside")
        logging.getLogger("engine").info("outside")
        """
    )
    assert code == 0, err
    messages = [(l["message"], l.get("span_name")) for l in lines]
    assert messages == [
        ("SPAN_CREATED", "prefill"),
        ("SPAN_CREATED", "attention"),
        ("inside", "attention"),
        ("SPAN_CLOSED", "attention"),
        ("SPAN_CLOSED", "prefill"),
        ("outside", None),
    ]
    prefill, attention = lines[0], lines[1]
    assert prefill["target"] == "__main__" and prefill["tokens"] == 7
    assert "parent_id" not in prefill
    assert attention["parent_id"] == prefill["span_id"]
    assert attention["trace_id"] == prefill["trace_id"]
    closed = lines[3]
    assert closed["time.busy_us"] >= 10_000
    assert closed["time.busy_us"] + closed["time.idle_us"] == closed["time.duration_us"]


def test_current_context_and_inject_give_the_current_span():
    lines, err, code, out = run_with_output(
        """
        import json, tracewire
        tracewire.init_logging()
        print(json.dumps([tracewire.current_context(), tracewire.inject({})]))
        with tracewire.span("call"):
            print(json.dumps([tracewire.current_context(), tracewire.inject({"accept": "x"})]))
        """
    )
    assert code == 0, err
    outside, inside = [json.loads(l) for l in out.splitlines()]
    assert outside == [None, {}]
    context, headers = inside
    created = lines[0]
    assert context == {
        "trace_id": created["trace_id"],
        "span_id": created["span_id"],
        "x_request_id": None,
    }
    assert headers == {
        "accept": "x",
        "traceparent": f"00-{created['trace_id']}-{created['span_id']}-01",
    }


def test_otel_context_makes_an_engines_opentelemetry_spans_children_of_the_current_span():
    lines, err, code, out = run_with_output(
        """
        import json, tracewire
        from opentelemetry import trace
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
        tracewire.init_logging()
        exporter = InMemorySpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        tracer = provider.get_tracer("engine")
        with tracer.start_as_current_span("root outside", context=tracewire.otel_context()):
            pass
        with tracewire.span("handle_payload"):
            with tracer.start_as_current_span("engine.prefill", context=tracewire.otel_context()):
                with tracer.start_as_current_span("engine.attention"):
                    pass
        spans = {
            s.name: {
                "trace_id": format(s.context.trace_id, "032x"),
                "span_id": format(s.context.span_id, "016x"),
                "parent": format(s.parent.span_id, "016x") if s.parent else None,
                "remote": s.parent.is_remote if s.parent else None,
                "sampled": s.context.trace_flags.sampled,
            }
            for s in exporter.get_finished_spans()
        }
        print(json.dumps(spans))
        """,
    )
    assert code == 0, err
    spans = json.loads(out)
    created = next(l for l in lines if l["message"] == "SPAN_CREATED")
    prefill, attention = spans["engine.prefill"], spans["engine.attention"]
    assert prefill["trace_id"] == created["trace_id"]
    assert prefill["parent"] == created["span_id"] and prefill["remote"] is True
    assert prefill["sampled"] is True
    assert attention["trace_id"] == created["trace_id"]
    assert attention["parent"] == prefill["span_id"]
    outside = spans["root outside"]
    assert outside["parent"] is None and outside["trace_id"] != created["trace_id"]


def test_otel_context_without_the_opentelemetry_api_is_a_clear_import_error():
    _, err, code, out = run_with_output(
        """
        import sys
        sys.modules["opentelemetry"] = None  # as if it were not installed
        import tracewire
        tracewire.init_logging()
        try:
            tracewire.otel_context()
        except ImportError as e:
            print(e)
        """
    )
    assert code == 0, err
    assert "pip install opentelemetry-api" in out, out


def test_readable_lines_mark_python_records():
    _, err, code = run(
        """
        import logging, tracewire
        tracewire.init_logging()
        logging.getLogger("engine.readable").info("ready", extra={"blocks": 3})
        """,
        DYN_LOGGING_JSONL="false",
    )
    assert code == 0, err
    (line,) = [l for l in err.splitlines() if "ready" in l]
    assert " INFO [P] engine.readable: ready blocks=3" in line
    assert "log.file" not in line


def test_a_bad_configuration_is_a_value_error_naming_the_variable():
    _, err, code, out = run_with_output(
        """
        import tracewire
        try:
            tracewire.init_logging()
        except ValueError as e:
            print(e)
            raise SystemExit(2)
        """,
        DYN_LOG="info,vllm=loud",
    )
    assert code == 2, err
    assert out.startswith("tracewire: configuration error: DYN_LOG"), out
    assert "loud" in out


def test_lines_queued_at_exit_are_written():
    lines, err, code = run(
        """
        import logging, tracewire
        tracewire.init_logging()
        log = logging.getLogger("engine")
        for i in range(20000):
            log.info("line", extra={"i": i})
        """
    )
    assert code == 0, err
    assert [l["i"] for l in lines] == list(range(20000))
