"""Reading client-directed logs (SPEC §13) from an answer: the helpers alone, on the bytes and
objects a server and the openai client produce."""

import json

import tracewire

LOG = {"time": "2026-12-04T00:00:00.000001Z", "level": "DEBUG", "message": "token", "trace_id": "ab"}
CHUNK = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "choices": [{"delta": {"content": "hi"}}]}


def sse(*events):
    lines = []
    for name, data in events:
        if name:
            lines.append(f"event: {name}")
        lines.append(f"data: {data if isinstance(data, str) else json.dumps(data)}")
        lines.append("")
    return lines


def test_a_raw_stream_yields_the_chunks_and_hands_the_lines_to_on_log():
    got = []
    body = sse(("tracewire.log", LOG), (None, CHUNK), ("tracewire.log", LOG), (None, "[DONE]"), (None, CHUNK))
    chunks = list(tracewire.with_client_logs([l.encode() + b"\n" for l in body], got.append))
    assert chunks == [CHUNK], "stops at [DONE]"
    assert got == [LOG, LOG]


class Model:
    """What the openai client yields: a model with ``to_dict``."""

    def __init__(self, value):
        self.value = value

    def to_dict(self):
        return self.value


def test_an_openai_stream_loses_its_log_chunks_to_on_log():
    got = []
    items = [Model(LOG), Model(CHUNK), Model({"choices": [], "usage": {"total_tokens": 3}})]
    kept = list(tracewire.with_client_logs(iter(items), got.append))
    assert [k.value for k in kept] == [CHUNK, items[2].value], "a usage chunk is not a line"
    assert got == [LOG]


def test_a_json_answers_lines():
    assert tracewire.client_logs({"choices": [], "tracewire_logs": [LOG]}) == [LOG]
    assert tracewire.client_logs({"choices": []}) == []
    assert tracewire.CLIENT_LOGS_HEADER == "x-tracewire-logs"
