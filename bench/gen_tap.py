"""Write a synthetic Singer tap's output. Deterministic for a given seed.

Two kinds of data:

- ``realistic`` (the default): like a real SaaS or database export. About a third of the lines
  carry non-ASCII UTF-8 names and addresses in many languages; ``time_extracted`` differs on
  every record (singer-sdk's ``+00:00`` and singer-python's ``Z`` styles); nested objects and
  arrays; 3 streams; a STATE every 5,000 records.
- ``ascii``: the original data, pure ASCII records (~600 bytes, 15 mixed fields, 3 streams),
  one ``time_extracted`` for all and a STATE every 10,000 records.
"""

from __future__ import annotations

import argparse
import datetime as dt
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


NAMES = (
    "Zoë Ångström",
    "José Álvarez Peña",
    "Łukasz Żółkiewski",
    "Ørjan Brække",
    "Çağla Yıldırım",  # noqa: RUF001 (Turkish dotless i, on purpose)
    "Jürgen Größmann",
    "François Lefèvre",
    "Ελένη Παπαδοπούλου",
    "Дмитрий Иванов",
    "Олена Коваленко",
    "山田 太郎",
    "王小明",
    "김민준",
    "محمد العلي",
    "דוד לוי",
    "अनिल कुमार",
    "สมชาย ใจดี",
    "Nguyễn Văn An",
    "Ngozi Okonkwo 🌍",
)
CITIES = (
    ("Zürich", "Bahnhofstraße 12"),
    ("Kraków", "ulica Świętego Marka 7"),
    ("São Paulo", "Avenida Paulista 1578, 3º andar"),
    ("Αθήνα", "Οδός Ερμού 15"),
    ("Москва", "улица Тверская, дом 7"),
    ("東京", "千代田区丸の内1-9-1"),
    ("서울", "세종대로 110"),
    ("القاهرة", "شارع التحرير ١٢"),
    ("İstanbul", "İstiklal Caddesi No: 42"),
    ("Reykjavík", "Laugavegur 31"),
    ("मुंबई", "मरीन ड्राइव 21"),
    ("Hà Nội", "Phố Hàng Bạc 9"),
)


def generate(path: Path, records: int, seed: int = 7, kind: str = "realistic") -> None:
    if kind == "ascii":
        _generate_ascii(path, records, seed)
    else:
        _generate_realistic(path, records, seed)


def _generate_realistic(path: Path, records: int, seed: int) -> None:
    rng = random.Random(seed)
    dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
    base = dt.datetime(2024, 6, 1, 12, 0, 0, tzinfo=dt.UTC)
    with path.open("w", encoding="utf-8") as out:
        for s in STREAMS:
            out.write(
                dumps({"type": "SCHEMA", "stream": s, "schema": SCHEMA, "key_properties": ["id"]})
                + "\n"
            )
        for i in range(records):
            stream = STREAMS[i % 3]
            # a tap extracting 20,000 records/s: every record's time differs
            extracted_at = base + dt.timedelta(microseconds=i * 50 + rng.randrange(50))
            if i % 3 == 1:  # singer-python style
                extracted = extracted_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            else:  # singer-sdk style
                extracted = extracted_at.isoformat()
            if i % 3 == 0:  # a third of the lines in other scripts
                name = NAMES[(i // 3) % len(NAMES)]
                city, street = CITIES[(i // 3) % len(CITIES)]
            else:
                name, city, street = f"Customer number {i:08d}", "Amsterdam", f"Damrak {i % 300}"
            amount = f"{rng.randint(0, 10**6) / 100:.2f}"
            record = {
                "id": i,
                "name": name,
                "email": f"customer{i}@example.com",
                "amount": "AMOUNT",
                "big": 9007199254740993 + i,
                "active": i % 2 == 0,
                "note": None if i % 5 else "needs follow-up",
                "created_at": "2024-01-01T00:00:00+00:00",
                "updated_at": f"2024-05-{1 + i % 28:02d}T10:{i % 60:02d}:00+00:00",
                "score": rng.random(),
                "tags": ["alpha", "beta", "gamma"][: 1 + i % 3],
                "address": {
                    "street": street,
                    "city": city,
                    "zip": f"{1000 + i % 9000}",
                    "geo": {
                        "lat": round(rng.uniform(-80, 80), 6),
                        "lon": round(rng.uniform(-179, 179), 6),
                    },
                },
                "lines": [
                    {"sku": f"SKU-{(i + n) % 997:04d}", "qty": 1 + n, "price": 9.99 + n}
                    for n in range(i % 4)
                ],
                "country": "NL",
                "counter": i * 7,
            }
            line = dumps(
                {"type": "RECORD", "stream": stream, "record": record, "time_extracted": extracted}
            )
            out.write(line.replace('"amount":"AMOUNT"', f'"amount":{amount}') + "\n")
            if (i + 1) % 5_000 == 0:
                value = {
                    "bookmarks": {
                        stream: {
                            "replication_key": "updated_at",
                            "replication_key_value": record["updated_at"],
                        }
                    }
                }
                out.write(dumps({"type": "STATE", "value": value}) + "\n")


def _generate_ascii(path: Path, records: int, seed: int) -> None:
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
    parser.add_argument("--kind", choices=("realistic", "ascii"), default="realistic")
    args = parser.parse_args()
    generate(args.out, args.records, kind=args.kind)


if __name__ == "__main__":
    main()
