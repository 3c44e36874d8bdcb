"""Undo the cheap disguises a job can put on identifiers before the output checks look for them.

A hostile job that wants pseudonyms or rows out of the zone does not write them
plainly: it base64- or hex-encodes them, reverses them, changes their case,
slips a zero-width space or a Cyrillic look-alike letter into them, or drops the
``p_`` prefix. The checks therefore search, besides the text itself, every
*variant* produced here: the text normalised (NFKC, format characters removed,
confusables mapped to Latin, case folded), reversed, and with each encoded run
decoded (again normalised). This raises the cost of smuggling; it does not make
it impossible (a job can always invent its own cipher), which is why a person
still decides on every file.
"""

from __future__ import annotations

import base64
import binascii
import re
import unicodedata
from collections.abc import Iterator

# Cyrillic and Greek letters that look like Latin ones (after NFKC, which already folds full-width forms).
CONFUSABLES = str.maketrans({
    "а": "a", "в": "b", "с": "c", "е": "e", "һ": "h", "і": "i", "ј": "j", "к": "k", "м": "m", "н": "h",
    "о": "o", "р": "p", "ԛ": "q", "ѕ": "s", "т": "t", "у": "y", "х": "x", "ԝ": "w", "ѵ": "v",
    "А": "a", "В": "b", "С": "c", "Е": "e", "Н": "h", "І": "i", "Ј": "j", "К": "k", "М": "m", "О": "o",
    "Р": "p", "Ѕ": "s", "Т": "t", "Х": "x", "У": "y",
    "α": "a", "β": "b", "ε": "e", "ι": "i", "κ": "k", "ο": "o", "ρ": "p", "τ": "t", "υ": "u", "χ": "x",
    "Α": "a", "Β": "b", "Ε": "e", "Ζ": "z", "Η": "h", "Ι": "i", "Κ": "k", "Μ": "m", "Ν": "n", "Ο": "o",
    "Ρ": "p", "Τ": "t", "Υ": "y", "Χ": "x",
    "ı": "i", "ℓ": "l", "‐": "-", "‑": "-", "‒": "-", "–": "-", "—": "-", "−": "-",
})
ENCODED_RUN = re.compile(r"[A-Za-z0-9+/_=-]{16,}")
HEX_CHARS = frozenset("0123456789abcdefABCDEF")
B64_BLOB = re.compile(r"[A-Za-z0-9+/_=\s-]+")
MAX_DECODED = 64  # decoded runs per text: enough for any real disguise, bounded for a flood of them
MAX_BLOB = 4 << 20


def _has_format_chars(text: str) -> bool:
    return any(unicodedata.category(c) == "Cf" for c in text)


def normalise(text: str) -> str:
    """NFKC, format characters (zero-width spaces and joiners, soft hyphens, BOM) removed, look-alike letters
    mapped to Latin, case folded: two spellings a reader would take for the same word become one."""
    if text.isascii():
        return text.lower()
    out = unicodedata.normalize("NFKC", text)
    if _has_format_chars(out):
        out = "".join(c for c in out if unicodedata.category(c) != "Cf")
    return out.translate(CONFUSABLES).casefold()


def _printable(data: bytes) -> str | None:
    """``data`` as text if it reads as text (UTF-8, mostly printable); None for the noise a random run
    decodes to."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if not text:
        return None
    good = sum(1 for c in text if c.isprintable() or c in "\n\r\t")
    return text if good >= 0.95 * len(text) else None


def _b64(run: str) -> str | None:
    run = run.rstrip("=")
    if len(run) % 4 == 1:
        return None
    padded = run + "=" * (-len(run) % 4)
    try:
        if "-" in run or "_" in run:
            return _printable(base64.urlsafe_b64decode(padded))
        return _printable(base64.b64decode(padded, validate=True))
    except (binascii.Error, ValueError):
        return None


def _hex(run: str) -> str | None:
    try:
        return _printable(bytes.fromhex(run))
    except ValueError:
        return None


def encoded_runs(text: str) -> list[str]:
    """Runs of base64/hex alphabet at least 16 long: what might decode to something (one regex pass)."""
    return ENCODED_RUN.findall(text)


def decoded_runs(text: str, *, backwards: bool = False, runs: list[str] | None = None) -> Iterator[str]:
    """The text of every base64 or hex run in ``text`` that decodes to text, and of the whole text when it
    is one (possibly line-wrapped) base64 blob; at most ``MAX_DECODED`` of them. ``backwards``: decode the
    runs read backwards (an encoding written in reverse), without copying the whole text; ``runs``: the
    text's ``encoded_runs`` when the caller has them already."""
    found = 0
    if len(text) <= MAX_BLOB and B64_BLOB.fullmatch(text.strip() or "!"):
        joined = "".join(text.split())
        blob = _b64(joined[::-1] if backwards else joined)
        if blob is not None:
            found += 1
            yield blob
    for run in encoded_runs(text) if runs is None else runs:
        if found >= MAX_DECODED:
            return
        run = run[::-1] if backwards else run
        plain = _hex(run) if len(run) % 2 == 0 and HEX_CHARS.issuperset(run) else _b64(run)
        if plain is not None:
            found += 1
            yield plain


def variants(text: str) -> list[tuple[str, str]]:
    """(how, text) for each normalised spelling of ``text`` to search: itself and each decoded run (itself
    and reversed); a decoded run is decoded once more (base64 of hex, say), no deeper. The reversal of the
    text itself is not listed: searchers look for reversed tokens in it (cheaper than a reversed copy)."""
    runs = encoded_runs(text)
    out = [("as written", normalise(text))]
    for plain in decoded_runs(text, runs=runs):
        inner = normalise(plain)
        out += [("decoded", inner), ("decoded and reversed", inner[::-1])]
        out += [("decoded twice", normalise(p)) for p in decoded_runs(plain)]
    for plain in decoded_runs(text, backwards=True, runs=runs):  # an encoding written backwards
        out.append(("reversed and decoded", normalise(plain)))
    return out
