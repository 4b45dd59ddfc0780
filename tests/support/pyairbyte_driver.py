"""Runs inside PyAirbyte's own venv (not the project's): reads a source into DuckDB N times.

Usage: python pyairbyte_driver.py '{"executable": E, "config": {...}, "cache_dir": D, "reads": 2}'
Prints one JSON line: per read, records per stream, the processed count and stored states.
"""

import json
import os
import sys

os.environ["AIRBYTE_OFFLINE_MODE"] = "1"  # before importing airbyte: never ask the registry

import airbyte as ab


def main() -> None:
    args = json.loads(sys.argv[1])
    source = ab.get_source(
        "source-bridged", local_executable=args["executable"], config=args["config"]
    )
    source.select_all_streams()
    cache = ab.new_local_cache(cache_name="bridge_test", cache_dir=args["cache_dir"])
    reads = []
    totals: dict = {}
    for _ in range(int(args.get("reads", 2))):
        result = source.read(cache=cache, write_strategy="append")
        now = {name: sum(1 for _ in cache[name]) for name in result.streams}
        reads.append(
            {
                "processed": result.processed_records,
                "records": {name: now[name] - totals.get(name, 0) for name in now},
            }
        )
        totals = now
    provider = cache.get_state_provider(source_name=source.name)
    states = {
        s.stream_descriptor.name: s.stream_state.model_dump()
        for s in provider.stream_state_artifacts
    }
    print(json.dumps({"reads": reads, "states": states}))


if __name__ == "__main__":
    main()
