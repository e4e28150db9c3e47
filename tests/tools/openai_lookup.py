"""The real openai Python client reads a frontend's responses (SPEC §5): the completion and
every streamed chunk parse, their ``id`` and the ``traceresponse`` header.

Usage: openai_lookup.py BASE_URL. Prints a JSON report: for a completion (x-request-id
``openai-json``) and a stream (``openai-stream``), the header, the id(s) and the text read."""

import json
import sys

import openai

base = sys.argv[1]
client = openai.OpenAI(base_url=base, api_key="unused")
messages = [{"role": "user", "content": "What is the capital of South Africa?"}]
report = {}

raw = client.chat.completions.with_raw_response.create(
    model="Qwen/Qwen3-0.6B",
    messages=messages,
    extra_headers={"x-request-id": "openai-json"},
)
completion = raw.parse()
report["json"] = {
    "traceresponse": raw.headers.get("traceresponse"),
    "id": completion.id,
    "text": completion.choices[0].message.content,
}

raw = client.chat.completions.with_raw_response.create(
    model="Qwen/Qwen3-0.6B",
    messages=messages,
    stream=True,
    extra_headers={"x-request-id": "openai-stream"},
)
ids, text = [], ""
for chunk in raw.parse():
    ids.append(chunk.id)
    if chunk.choices:
        text += chunk.choices[0].delta.content or ""
report["stream"] = {"traceresponse": raw.headers.get("traceresponse"), "ids": ids, "text": text}
print(json.dumps(report))
