"""The real openai Python client against a frontend that returns client logs (SPEC §13).

Usage: openai_client_logs.py BASE_URL. Prints a JSON report: the text a plain streaming loop
read (chunks with choices only), the text and the count of log lines through
``tracewire.with_client_logs``, and the same for a non-streaming completion."""

import json
import sys

import openai

import tracewire

base = sys.argv[1]
client = openai.OpenAI(base_url=base, api_key="unused")
ask = {tracewire.CLIENT_LOGS_HEADER: "debug"}
messages = [{"role": "user", "content": "What is the capital of South Africa?"}]
report = {}

# A loop written for OpenAI's own streams, which can carry a chunk without choices (usage).
stream = client.chat.completions.create(
    model="Qwen/Qwen3-0.6B", messages=messages, stream=True, extra_headers=ask
)
text = ""
for chunk in stream:
    if getattr(chunk, "choices", None):
        text += chunk.choices[0].delta.content or ""
report["plain_stream"] = text

got = []
stream = client.chat.completions.create(
    model="Qwen/Qwen3-0.6B", messages=messages, stream=True, extra_headers=ask
)
text = ""
for chunk in tracewire.with_client_logs(stream, got.append):
    text += chunk.choices[0].delta.content or ""
report["helper_stream"] = text
report["helper_logs"] = len(got)
assert all(line.get("trace_id") for line in got), got

completion = client.chat.completions.create(
    model="Qwen/Qwen3-0.6B", messages=messages, extra_headers=ask
)
report["completion"] = completion.choices[0].message.content
report["completion_logs"] = len(tracewire.client_logs(completion))
print(json.dumps(report))
