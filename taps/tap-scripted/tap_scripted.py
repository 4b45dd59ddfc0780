#!/usr/bin/env python3
"""A Singer tap that plays a script: the bridge's test double for any tap behaviour.

Standard library only, so it runs under any Python. Its config names the script:

    {"catalog": {...Singer catalog...},            # what --discover prints
     "messages": [...Singer messages...],          # what a sync writes to stdout, in order
     "stderr": ["INFO starting", ...],             # lines written to stderr before the messages
     "about": {...} | null,                        # --about output; null: the tap has no --about
     "exit_code": 0,                               # exit code after the messages
     "discover_exit_code": 0,
     "echo_config": false,                         # print the config to stderr (for masking tests)
     "record_inputs": "path"}                      # write argv, catalog and state it got there

Each message is written as one JSON line, except {"raw": "..."} which is written verbatim.
"""

from __future__ import annotations

import json
import sys


def _arg(argv: list[str], flag: str) -> str | None:
    return argv[argv.index(flag) + 1] if flag in argv else None


def _load(path: str | None) -> object:
    if path is None:
        return None
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def main(argv: list[str]) -> int:
    config_path = _arg(argv, "--config")
    if "--help" in argv:
        print("usage: tap-scripted --config C [--discover] [--catalog K | --properties K] [--state S]")
        return 0
    if config_path is None:
        if "--about" in argv:
            print(json.dumps({"name": "tap-scripted", "capabilities": ["catalog", "discover", "state"],
                              "settings": {"type": "object", "properties": {}}}))
            return 0
        print("CRITICAL --config is required", file=sys.stderr)
        return 2
    config = _load(config_path)
    assert isinstance(config, dict)
    if config.get("echo_config"):
        print(f"INFO config is {json.dumps(config)}", file=sys.stderr)
    for line in config.get("stderr", []):
        print(line, file=sys.stderr)
    sys.stderr.flush()
    if "--about" in argv:
        if config.get("about") is None:
            print("ERROR unknown option --about", file=sys.stderr)
            return 2
        print(json.dumps(config["about"]))
        return 0
    if "--discover" in argv:
        print(json.dumps(config.get("catalog", {"streams": []}), indent=2))
        return int(config.get("discover_exit_code", 0))
    if config.get("record_inputs"):
        with open(config["record_inputs"], "w", encoding="utf-8") as handle:
            json.dump({"argv": argv,
                       "catalog": _load(_arg(argv, "--catalog") or _arg(argv, "--properties")),
                       "state": _load(_arg(argv, "--state"))}, handle)
    out = sys.stdout
    for message in config.get("messages", []):
        out.write(message["raw"] if "raw" in message else json.dumps(message) + "\n")
    out.flush()
    return int(config.get("exit_code", 0))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
