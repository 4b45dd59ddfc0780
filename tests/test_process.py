"""The tap's stdout reader: how long it lets the pipe fill between reads (never timed here)."""

from __future__ import annotations

import itertools
import sys
import time
import types

import pytest

from singer_bridge._tap import process
from singer_bridge._tap.process import TapProcess, pipe_size, trickle_wait
from singer_bridge._translate.masking import Masker

MIB = 1 << 20


def waits_after(reads: list[int], pipe: int = MIB) -> list[float]:
    """The wait the reader asks for after each of these reads, from a fresh start."""
    wait, small, out = 0.0, False, []
    for read in reads:
        wait, small = trickle_wait(read, wait, small, pipe)
        out.append(wait)
    return out


def test_small_reads_in_a_row_let_the_pipe_fill_longer_up_to_a_bound() -> None:
    waits = waits_after([300] * 12)
    assert waits[0] == 0.0  # one small read alone may be a fast tap caught mid-write
    assert waits[1] == process._TRICKLE_WAIT
    assert all(b >= a for a, b in itertools.pairwise(waits))  # never shrinks
    assert waits[-1] == max(waits) == process._MAX_WAIT  # the latency a message can gain


def test_a_fair_sized_read_keeps_the_wait_and_half_a_pipe_ends_it() -> None:
    grown = waits_after([300, 300, 300])
    assert grown[-1] > process._TRICKLE_WAIT
    kept = waits_after([300, 300, 300, 200_000, 200_000])
    assert kept[-2:] == [grown[-1], grown[-1]]  # the pipe fills well in that time: keep it
    fast = waits_after([300, 300, 300, MIB // 2, 300])
    assert fast[-2:] == [0.0, 0.0]  # a fast tap: read straight on, then no wait at once


def test_small_is_measured_against_a_pipe_that_could_not_be_widened() -> None:
    pipe = 64 * 1024
    grown = waits_after([300, 300, 300], pipe)
    # An eighth of this pipe is a fair read here (it would be small in a 1 MiB pipe), and
    # half of it means a fast tap: the wait never lets a small pipe fill.
    assert waits_after([300, 300, 300, pipe // 4], pipe)[-1] == grown[-1]
    assert waits_after([300, 300, 300, pipe // 4], MIB)[-1] > grown[-1]
    assert waits_after([300, 300, 300, pipe // 2], pipe)[-1] == 0.0


def test_pipe_size_reads_the_capacity_of_a_real_pipe() -> None:
    with TapProcess([sys.executable, "-c", "pass"]) as tap:
        assert tap._proc is not None and tap._proc.stdout is not None
        size = pipe_size(tap._proc.stdout.fileno())
        tap.wait()
    assert size >= 4096 and size & (size - 1) == 0  # a whole number of pages, a power of two


TRICKLER = """
import sys, time
for i in range(8):
    sys.stdout.write('{"n": %d}\\n' % i)
    sys.stdout.flush()
    time.sleep(0.02)
"""


def test_a_trickling_tap_is_read_with_growing_waits_and_every_line_arrives(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    asked: list[float] = []

    def sleep(seconds: float) -> None:
        asked.append(seconds)
        time.sleep(seconds)

    fake_time = types.SimpleNamespace(sleep=sleep, monotonic=time.monotonic)
    monkeypatch.setattr(process, "time", fake_time)
    with TapProcess([sys.executable, "-c", TRICKLER]) as tap:
        blocks = list(tap.stdout_blocks())
        assert tap.wait() == 0
    lines = b"\n".join(blocks).split(b"\n")
    assert lines == [b'{"n": %d}' % i for i in range(8)]
    assert len(asked) >= 3  # eight flushed lines 20 ms apart: read in more than four reads
    assert asked[:3] == [process._TRICKLE_WAIT, 2 * process._TRICKLE_WAIT, process._MAX_WAIT]
    assert max(asked) == process._MAX_WAIT


def test_a_secret_across_the_cut_of_an_over_long_stderr_line_is_masked_whole() -> None:
    secret = "s3cr3t-" + "q" * 40
    start = process._MAX_STDERR_LINE - 10  # the secret straddles where the line is cut
    script = f"import sys; sys.stderr.write('x' * {start} + {secret!r} + ' tail\\nnext\\n')"
    lines: list[str] = []
    masker = Masker([secret])
    with TapProcess(
        [sys.executable, "-c", script], on_stderr=lines.append, mask=masker.mask
    ) as tap:
        list(tap.stdout_lines())
        tap.wait()
    assert lines[0] == "x" * start + "****" + " tail"
    assert lines[1:] == ["next"] and not any("s3cr3t" in line for line in lines)
