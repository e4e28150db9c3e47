"""serve_worker in a fresh interpreter: the protocol a Python engine's yields and exceptions
become, and the lines they leave."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import urllib.request

from test_logging import CONTROLLED

ENGINES = """
import asyncio, logging, sys, tracewire
log = logging.getLogger("engine.test")

async def generate(request):
    prompt = request["prompt"]
    log.info("generating", extra={"prompt": prompt})
    if prompt == "fail":
        yield "partial "
        raise ValueError("the engine broke")
    if prompt == "not text":
        yield 7
    if prompt.startswith("cut"):
        yield "cut"
        yield tracewire.Finish("length")
        yield "never sent"
    if prompt == "slow":
        try:
            for i in range(1000):
                yield f"t{i} "
                await asyncio.sleep(0.01)
        except BaseException as e:
            log.warning("generator stopped", extra={"by": type(e).__name__})
            raise
    for word in prompt.split():
        yield word + " "

tracewire.serve_worker(generate, model="m", listen="127.0.0.1:0")
"""


class Worker:
    def __init__(self):
        environment = {k: v for k, v in os.environ.items() if k not in CONTROLLED}
        environment["DYN_LOGGING_JSONL"] = "true"
        self.process = subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(ENGINES)],
            env=environment,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines = []
        while True:
            line = self.process.stderr.readline()
            assert line, "the worker exited before listening"
            self.lines.append(line)
            if '"worker listening"' in line:
                self.addr = json.loads(line)["addr"]
                break

    def call(self, prompt, timeout=10):
        body = json.dumps({"model": "m", "prompt": prompt, "max_tokens": None}).encode()
        request = urllib.request.Request(
            f"http://{self.addr}/generate",
            data=body,
            headers={"x-request-id": "req-" + prompt.replace(" ", "_"), "content-type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return [json.loads(l) for l in response.read().decode().splitlines()]

    def stop(self):
        self.process.send_signal(signal.SIGTERM)
        # Through the same buffered reader as the lines read so far (communicate() would read
        # the pipe past what this reader already holds).
        self.lines.extend(self.process.stderr.read().splitlines())
        self.process.wait(timeout=30)
        return [json.loads(l) for l in self.lines if l.startswith("{")], self.process.returncode


def test_tokens_failures_and_bad_yields_follow_the_protocol():
    worker = Worker()
    try:
        assert worker.call("one two") == [
            {"type": "token", "text": "one "},
            {"type": "token", "text": "two "},
            {"type": "done", "finish_reason": "stop", "prompt_tokens": 2, "completion_tokens": 2},
        ]
        assert worker.call("cut short") == [
            {"type": "token", "text": "cut"},
            {"type": "done", "finish_reason": "length", "prompt_tokens": 2, "completion_tokens": 1},
        ]
        assert worker.call("fail") == [
            {"type": "token", "text": "partial "},
            {"type": "error", "message": "ValueError: the engine broke"},
        ]
        assert worker.call("not text") == [
            {"type": "error", "message": "TypeError: generate must yield str, it yielded int"},
        ]
    finally:
        lines, code = worker.stop()
    assert code == 0
    failed = [l for l in lines if l["level"] == "ERROR"]
    assert len(failed) == 2
    broke = failed[0]
    assert broke["message"] == "generation failed" and broke["span_name"] == "handle_payload"
    assert broke["x_request_id"] == "req-fail"
    assert broke["exception"].startswith("Traceback (most recent call last):")
    assert broke["exception"].endswith("ValueError: the engine broke")
    engine = [l for l in lines if l.get("log.target") == "engine.test" and l["x_request_id"] == "req-fail"]
    assert engine and engine[0]["span_id"] == broke["span_id"], "the engine's line is in the span"
    closed = [l for l in lines if l["message"] == "SPAN_CLOSED" and l["x_request_id"] == "req-fail"]
    assert closed[0]["outcome"] == "error"


def test_a_caller_that_leaves_cancels_the_generator():
    worker = Worker()
    try:
        body = json.dumps({"model": "m", "prompt": "slow", "max_tokens": None}).encode()
        request = urllib.request.Request(
            f"http://{worker.addr}/generate", data=body, headers={"x-request-id": "req-slow"}
        )
        response = urllib.request.urlopen(request, timeout=10)
        response.readline()
        response.close()
        deadline = time.time() + 10
        while time.time() < deadline:
            line = worker.process.stderr.readline()
            worker.lines.append(line)
            if "generator stopped" in line:
                break
    finally:
        lines, code = worker.stop()
    assert code == 0
    (stopped,) = [l for l in lines if l["message"] == "generator stopped"]
    assert stopped["by"] in ("CancelledError", "GeneratorExit")
    assert stopped["x_request_id"] == "req-slow"
    closed = [l for l in lines if l["message"] == "SPAN_CLOSED" and l.get("x_request_id") == "req-slow"]
    assert closed, [(l["message"], l.get("x_request_id")) for l in lines]
    assert closed[0]["outcome"] == "cancelled"
