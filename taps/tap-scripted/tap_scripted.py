#!/usr/bin/env python3
"""A Singer tap that plays a script: the bridge's test double for any tap behaviour.

Standard library only, so it runs under any Python. Its config names the script:

    {"catalog": {...Singer catalog...},            # what --discover prints
     "messages": [...Singer messages...],          # what a sync writes to stdout, in order
     "stderr": ["INFO starting", ...],             # lines written to stderr before the messages
     "read_stderr": [...],                         # more stderr lines, in a sync only
     "about": {...} | null,                        # --about output; null: the tap has no --about
     "exit_code": 0,                               # exit code after the messages
     "discover_exit_code": 0,
     "echo_config": false,                         # print the config to stderr (for masking tests)
     "record_inputs": "path",                      # write argv, catalog and state it got there
     "starts_log": "path"}                         # append one line per start: its argv

Without --config, --about prints the file named by $TAP_SCRIPTED_ABOUT, if set.
Each message is written as one JSON line, except {"raw": "..."} which is written verbatim, and
hostile steps: {"records": {"stream", "count", "start", "pad"}}, {"sleep": s}, {"signal": "KILL"},
{"stderr_bytes": n}, {"big_record": {"stream", "bytes"}}, {"big_state": n, "stream": s},
{"spawn_child": pidfile}, {"flush": true}, {"raw_latin1": "..."} (bytes, not UTF-8).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time


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
        print(
            "usage: tap-scripted --config C [--discover] [--catalog K | --properties K] [--state S]"
        )
        return 0
    if config_path is None and "--about" in argv and os.environ.get("TAP_SCRIPTED_ABOUT"):
        with open(os.environ["TAP_SCRIPTED_ABOUT"], encoding="utf-8") as handle:
            print(handle.read())
        return 0
    if config_path is None:
        if "--about" in argv:
            print(
                json.dumps(
                    {
                        "name": "tap-scripted",
                        "capabilities": ["catalog", "discover", "state"],
                        "settings": {"type": "object", "properties": {}},
                    }
                )
            )
            return 0
        print("CRITICAL --config is required", file=sys.stderr)
        return 2
    config = _load(config_path)
    assert isinstance(config, dict)
    if config.get("starts_log"):
        with open(config["starts_log"], "a", encoding="utf-8") as handle:
            handle.write(json.dumps(argv) + "\n")
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
        time.sleep(float(config.get("discover_sleep", 0)))
        print(json.dumps(config.get("catalog", {"streams": []}), indent=2))
        return int(config.get("discover_exit_code", 0))
    if config.get("record_inputs"):
        with open(config["record_inputs"], "w", encoding="utf-8") as handle:
            json.dump(
                {
                    "argv": argv,
                    "catalog": _load(_arg(argv, "--catalog") or _arg(argv, "--properties")),
                    "state": _load(_arg(argv, "--state")),
                    "modes": {
                        flag: oct(os.stat(path).st_mode & 0o777)
                        for flag in ("--config", "--catalog", "--state")
                        if (path := _arg(argv, flag))
                    },
                    "dir_mode": oct(os.stat(os.path.dirname(config_path)).st_mode & 0o777),
                    "env": dict(os.environ),
                },
                handle,
            )
    for line in config.get("read_stderr", []):
        print(line, file=sys.stderr)
    sys.stderr.flush()
    out = sys.stdout
    for message in config.get("messages", []):
        _play(message, out)
    out.flush()
    return int(config.get("exit_code", 0))


def _play(step: dict, out) -> None:
    """One scripted step: a message, raw text, or a hostile action."""
    if "raw" in step:
        out.write(step["raw"])
    elif "raw_latin1" in step:  # bytes that need not be UTF-8
        out.flush()
        out.buffer.write(step["raw_latin1"].encode("latin-1"))
        out.buffer.flush()
    elif "records" in step:  # {"records": {"stream": s, "count": n, "start": 0, "pad": 0}}
        spec = step["records"]
        pad = "x" * int(spec.get("pad", 0))
        for i in range(int(spec.get("start", 0)), int(spec.get("start", 0)) + int(spec["count"])):
            record = {"id": i, "pad": pad} if pad else {"id": i}
            out.write(
                json.dumps({"type": "RECORD", "stream": spec["stream"], "record": record}) + "\n"
            )
    elif "sleep" in step:
        out.flush()
        time.sleep(float(step["sleep"]))
    elif "signal" in step:
        out.flush()
        os.kill(os.getpid(), getattr(signal, "SIG" + step["signal"]))
        time.sleep(5)
    elif "stderr_bytes" in step:  # flood stderr while stdout keeps going
        line = "INFO " + "y" * 1018 + "\n"
        for _ in range(int(step["stderr_bytes"]) // len(line)):
            sys.stderr.write(line)
        sys.stderr.flush()
    elif "big_record" in step:
        spec = step["big_record"]
        body = {"id": spec.get("id", 0), "blob": "z" * int(spec["bytes"])}
        out.write(json.dumps({"type": "RECORD", "stream": spec["stream"], "record": body}) + "\n")
    elif "big_state" in step:
        value = {"bookmarks": {step.get("stream", "s"): {"blob": "s" * int(step["big_state"])}}}
        out.write(json.dumps({"type": "STATE", "value": value}) + "\n")
    elif "spawn_child" in step:  # a grandchild that outlives nobody: it must be stopped with us
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
        with open(step["spawn_child"], "w", encoding="utf-8") as handle:
            handle.write(str(child.pid))
    elif "flush" in step:
        out.flush()
    else:
        out.write(json.dumps(step) + "\n")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
