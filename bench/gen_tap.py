"""Write a synthetic Singer tap's output: SCHEMAs, RECORDs (~600 bytes, 15 mixed fields,
3 streams) and a STATE every 10,000 records. Deterministic for a given seed."""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

STREAMS = ("accounts", "invoices", "events")
SCHEMA = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "name": {"type": "string"},
        "email": {"type": "string"},
        "amount": {"type": "number"},
        "big": {"type": "integer"},
        "active": {"type": "boolean"},
        "note": {"type": ["null", "string"]},
        "created_at": {"type": "string", "format": "date-time"},
        "updated_at": {"type": "string", "format": "date-time"},
        "score": {"type": "number"},
        "tags": {"type": "array", "items": {"type": "string"}},
        "address": {"type": "object", "properties": {"city": {"type": "string"}}},
        "description": {"type": "string"},
        "country": {"type": "string"},
        "counter": {"type": "integer"},
    },
}


def singer_catalog() -> dict:
    return {
        "streams": [
            {
                "tap_stream_id": s,
                "stream": s,
                "schema": SCHEMA,
                "metadata": [{"breadcrumb": [], "metadata": {"table-key-properties": ["id"]}}],
            }
            for s in STREAMS
        ]
    }


def generate(path: Path, records: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    dumps = json.JSONEncoder(separators=(",", ":")).encode
    extracted = "2024-06-01T12:00:00.000000+00:00"
    with path.open("w", encoding="utf-8") as out:
        for s in STREAMS:
            out.write(
                dumps({"type": "SCHEMA", "stream": s, "schema": SCHEMA, "key_properties": ["id"]})
                + "\n"
            )
        for i in range(records):
            stream = STREAMS[i % 3]
            record = {
                "id": i,
                "name": f"Customer number {i:08d}",
                "email": f"customer{i}@example.com",
                "amount": f"{rng.randint(0, 10**6) / 100:.2f}",
                "big": 9007199254740993 + i,
                "active": i % 2 == 0,
                "note": None if i % 5 else "needs follow-up",
                "created_at": "2024-01-01T00:00:00+00:00",
                "updated_at": f"2024-05-{1 + i % 28:02d}T10:{i % 60:02d}:00+00:00",
                "score": rng.random(),
                "tags": ["alpha", "beta", "gamma"][: 1 + i % 3],
                "address": {"city": "Amsterdam", "zip": f"{1000 + i % 9000}AB"},
                "description": "lorem ipsum dolor sit amet " * 6,
                "country": "NL",
                "counter": i * 7,
            }
            line = dumps(
                {"type": "RECORD", "stream": stream, "record": record, "time_extracted": extracted}
            )
            # amounts as exact decimals: the JSON number keeps its text (1234.50)
            out.write(
                line.replace(f'"amount":"{record["amount"]}"', f'"amount":{record["amount"]}')
                + "\n"
            )
            if (i + 1) % 10_000 == 0:
                value = {
                    "bookmarks": {
                        stream: {
                            "replication_key": "updated_at",
                            "replication_key_value": record["updated_at"],
                        }
                    }
                }
                out.write(dumps({"type": "STATE", "value": value}) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    generate(args.out, args.records)


if __name__ == "__main__":
    main()
