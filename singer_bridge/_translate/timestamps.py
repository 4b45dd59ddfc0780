"""Singer's ``time_extracted`` as Airbyte's integer ``emitted_at`` (epoch milliseconds).

``emitted_at_ms`` is the definition; ``extracted_ms`` gives the same integer for every input
without parsing a datetime where it can, since on the hot path every record's differs.

>>> emitted_at_ms("2024-05-01T10:00:00+00:00"), extracted_ms("2024-05-01T10:00:00.123456Z")
(1714557600000, 1714557600123)
"""

from __future__ import annotations

from datetime import datetime
from typing import Any


def emitted_at_ms(time_extracted: str) -> int | None:
    """Singer's ``time_extracted`` (ISO 8601) as integer epoch milliseconds."""
    try:
        parsed = datetime.fromisoformat(time_extracted)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        from datetime import UTC

        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp() * 1000)


# The hot path's time_extracted: each record's differs, so the slow parse above would run per
# record. The date and time to the second ("2024-06-01T12:00:00") is looked up in a cache,
# the rest (".123456", then "Z", "+HH:MM" or nothing) is sliced; anything else takes the slow
# parse. The result is the same integer as ``emitted_at_ms`` for every input: microseconds
# since the epoch divided as ``datetime.timestamp`` does, then times 1000, truncated.
SECOND_CACHE: dict[str, int | None] = {}  # "YYYY-MM-DDTHH:MM:SS" -> microseconds since the epoch
_ZONES: dict[str, int] = {"": 0, "Z": 0, "+00:00": 0, "-00:00": 0}  # suffix -> offset in µs
# Within one millisecond (the same first 23 characters, "2024-06-01T12:00:00.123"), every
# time_extracted whose last three microsecond digits are not "000" and whose zone is UTC gives
# the same emitted_at: the float error of timestamp() * 1000 stays below 0.001 ms for dates
# before 2096, so truncating lands on the same integer. A fast tap's records share them.
SAME_MS_TAILS = frozenset(f"{us:03d}{zone}" for us in range(1, 1000) for zone in ("Z", "+00:00"))
SAME_MS_RAW_TAILS = frozenset(f'{tail}"'.encode() for tail in SAME_MS_TAILS)  # as JSON text
SAME_MS_LIMIT = 4_000_000_000_000  # ms; 2096-10-02
_EPOCH_ORDINAL = 719163  # date(1970, 1, 1).toordinal()
_MISSING: Any = object()


def extracted_ms(time_extracted: str) -> int | None:
    """``emitted_at_ms(time_extracted)``, computed without parsing a datetime when it can be."""
    base = SECOND_CACHE.get(time_extracted[:19])
    if base is not None and time_extracted[19:20] == ".":  # the usual shape: six digits
        digits = time_extracted[20:26]
        if len(digits) == 6 and digits.isdigit() and digits.isascii():
            offset = _ZONES.get(time_extracted[26:])
            if offset is not None:
                return int((base + int(digits) - offset) / 1_000_000 * 1000)
    return _extracted_ms(time_extracted)


def extracted_suffix(time_extracted: str) -> tuple[bytes, bytes | None] | None:
    """The end of a RECORD line for a time_extracted (None if it is no time), and the raw JSON
    key (``b'"'`` and its first 23 characters) that later records of the same millisecond share,
    when it has one (see ``SAME_MS_TAILS``).

    >>> extracted_suffix("2024-05-01T10:00:00.123456Z")
    (b',"emitted_at":1714557600123}}\\n', b'"2024-05-01T10:00:00.123')
    """
    ms = extracted_ms(time_extracted)
    if ms is None:
        return None
    suffix = b',"emitted_at":%d}}\n' % ms
    key = time_extracted[:23]
    if (
        0 <= ms < SAME_MS_LIMIT
        and time_extracted[23:] in SAME_MS_TAILS
        and SECOND_CACHE.get(time_extracted[:19]) is not None
        and key[19] == "."
        and key[20:].isdigit()
        and key[20:].isascii()
    ):
        return suffix, b'"' + key.encode()
    return suffix, None


def _extracted_ms(time_extracted: str) -> int | None:
    head = time_extracted[:19]
    base = SECOND_CACHE.get(head, _MISSING)
    if base is _MISSING:
        base = _second_us(head)
    if base is None:
        return emitted_at_ms(time_extracted)
    rest = time_extracted[19:]
    if rest[:1] == ".":
        digits = rest[1:7]
        if len(digits) == 6 and digits.isascii() and digits.isdigit():
            fraction, zone = int(digits), rest[7:]
        elif (
            (digits := rest[1:4]).isascii()
            and len(digits) == 3
            and digits.isdigit()
            and not rest[4:5].isdigit()
        ):
            fraction, zone = int(digits) * 1000, rest[4:]
        else:
            return emitted_at_ms(time_extracted)
    else:
        fraction, zone = 0, rest
    offset = _ZONES.get(zone)
    if offset is None and (offset := _zone_offset(zone)) is None:
        return emitted_at_ms(time_extracted)
    return int((base + fraction - offset) / 1_000_000 * 1000)


def _second_us(head: str) -> int | None:
    """Microseconds since the epoch for a plain ``YYYY-MM-DDTHH:MM:SS`` (as UTC), else None."""
    value = None
    if (
        len(head) == 19
        and head.isascii()
        and head[4] == "-"
        and head[7] == "-"
        and head[10] == "T"
        and head[13] == ":"
        and head[16] == ":"
    ):
        parts = (head[0:4], head[5:7], head[8:10], head[11:13], head[14:16], head[17:19])
        if all(part.isdigit() for part in parts):
            year, month, day, hour, minute, second = map(int, parts)
            try:
                days = datetime(year, month, day).toordinal() - _EPOCH_ORDINAL
            except ValueError:
                days = None
            if days is not None and hour < 24 and minute < 60 and second < 60:
                value = (days * 86400 + hour * 3600 + minute * 60 + second) * 1_000_000
    if len(SECOND_CACHE) >= 100_000:
        SECOND_CACHE.clear()
    SECOND_CACHE[head] = value
    return value


def _zone_offset(zone: str) -> int | None:
    """Offset in microseconds of a ``+HH:MM`` / ``-HH:MM`` suffix (cached), else None."""
    if len(zone) != 6 or not zone.isascii() or zone[0] not in "+-" or zone[3] != ":":
        return None
    hours, minutes = zone[1:3], zone[4:6]
    if not (hours.isdigit() and minutes.isdigit()) or int(hours) > 23 or int(minutes) > 59:
        return None
    offset = (int(hours) * 3600 + int(minutes) * 60) * 1_000_000
    _ZONES[zone] = offset = -offset if zone[0] == "-" else offset
    return offset
