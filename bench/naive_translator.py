"""The baseline: a straightforward Singer-to-Airbyte translator (orjson loads, dict, dumps)."""

import sys
import time

import orjson


def main() -> None:
    out = sys.stdout.buffer
    counts: dict[str, int] = {}
    for line in sys.stdin.buffer:
        message = orjson.loads(line)
        kind = message.get("type")
        if kind == "RECORD":
            stream = message["stream"]
            counts[stream] = counts.get(stream, 0) + 1
            record = {
                "type": "RECORD",
                "record": {
                    "stream": stream,
                    "data": message["record"],
                    "emitted_at": int(time.time() * 1000),
                },
            }
            out.write(orjson.dumps(record) + b"\n")
        elif kind == "STATE":
            for stream, bookmark in message["value"].get("bookmarks", {}).items():
                state = {
                    "type": "STATE",
                    "state": {
                        "type": "STREAM",
                        "stream": {"stream_descriptor": {"name": stream}, "stream_state": bookmark},
                        "sourceStats": {"recordCount": float(counts.pop(stream, 0))},
                    },
                }
                out.write(orjson.dumps(state) + b"\n")


if __name__ == "__main__":
    main()
