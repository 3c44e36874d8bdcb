"""The data zone's pure rules: pseudonyms, k-anonymity and output checks."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable

import pytest

from aicc.core.datazone.checks import (
    CheckStatus,
    DataKnowledge,
    FileFacts,
    FileKind,
    OutputRules,
    check_file,
    check_request,
)
from aicc.core.datazone.datasets import (
    Prints,
    k_anonymity,
    parse_columns,
    pseudonym,
    pseudonymize,
    row_fingerprint,
)
from aicc.core.errors import InvalidInput

RULES = OutputRules(max_file_bytes=1000, max_total_bytes=1500, max_files=5)
NONE = DataKnowledge()


def test_pseudonyms_are_keyed_stable_and_not_the_value() -> None:
    a = pseudonym(b"k1", "900101-1234567")
    assert a == pseudonym(b"k1", "900101-1234567")
    assert a != pseudonym(b"k2", "900101-1234567")
    assert "900101" not in a and a.startswith("p_") and len(a) == 26
    rows = list(pseudonymize(["id", "age"], [["x", "40"], ["", "50"]], ["id"], b"k"))
    assert rows[0][0] == pseudonym(b"k", "x") and rows[0][1] == "40"
    assert rows[1] == ["", "50"]  # an empty identifier stays empty, not the pseudonym of ""


def test_k_anonymity_is_the_smallest_equivalence_class() -> None:
    header = ["age", "sex", "dx"]
    rows = [["40s", "F", "a"]] * 6 + [["50s", "M", "b"]] * 2
    r = k_anonymity(header, rows, ["age", "sex"], required_k=5)
    assert (r.k, r.classes, r.classes_below, r.rows_below, r.ok) == (2, 2, 1, 2, False)
    assert k_anonymity(header, rows[:6], ["age", "sex"]).ok
    with pytest.raises(InvalidInput, match="zip"):
        k_anonymity(header, rows, ["zip"])


def test_columns_are_validated() -> None:
    assert parse_columns([{"name": "id", "role": "identifier"}])[0].role.value == "identifier"
    with pytest.raises(InvalidInput, match="twice"):
        parse_columns([{"name": "a"}, {"name": "a"}])
    with pytest.raises(InvalidInput, match="role"):
        parse_columns([{"name": "a", "role": "secret"}])


def _table(text: str, path: str = "out/t.csv") -> FileFacts:
    data = text.encode()
    return FileFacts(path, FileKind.FILE, len(data), data)


def test_links_special_files_and_wrong_types_fail() -> None:
    assert check_file(FileFacts("out/x", FileKind.SYMLINK, 0), RULES, NONE).status is CheckStatus.FAIL
    assert check_file(FileFacts("out/p", FileKind.SPECIAL, 0), RULES, NONE).status is CheckStatus.FAIL
    exe = check_file(FileFacts("out/a.bin", FileKind.FILE, 3, b"\x7fEL"), RULES, NONE)
    assert exe.status is CheckStatus.FAIL and "not allowed" in exe.reasons[0]
    fake_png = check_file(FileFacts("out/a.png", FileKind.FILE, 3, b"abc"), RULES, NONE)
    assert fake_png.status is CheckStatus.FAIL
    binary = check_file(FileFacts("out/a.txt", FileKind.FILE, 3, b"a\x00b"), RULES, NONE)
    assert binary.status is CheckStatus.FAIL
    big = check_file(FileFacts("out/a.txt", FileKind.FILE, 5000, None), RULES, NONE)
    assert big.status is CheckStatus.FAIL and "over the limit" in big.reasons[0]
    bad_name = check_file(FileFacts("out/\\xff.csv", FileKind.FILE, 2, b"ok", name_error="not UTF-8"), RULES, NONE)
    assert bad_name.status is CheckStatus.FAIL and bad_name.reasons == ["fail: not UTF-8"]


def test_plain_text_passes_and_the_server_checks_counts_itself() -> None:
    assert check_file(FileFacts("out/a.txt", FileKind.FILE, 2, b"ok"), RULES, NONE).status is CheckStatus.PASS
    ok = check_file(_table("region,n\nx,40\ny,12\n"), RULES, NONE)
    assert ok.status is CheckStatus.PASS and "at least 10" in ok.reasons[0]
    small = check_file(_table("region,n\nx,40\ny,4\n"), RULES, NONE)
    assert small.status is CheckStatus.FAIL and "1 cell(s) count fewer than 10" in small.reasons[0]
    means = check_file(_table("region,mean_los\nx,4.5\ny,3.25\n"), RULES, NONE)
    assert means.status is CheckStatus.REVIEW and "not counts" in means.reasons[0]
    zero = check_file(_table("region,n\nx,40\ny,0\n"), RULES, NONE)
    assert zero.status is CheckStatus.REVIEW
    metrics = check_file(_table("epoch,loss\n0,1.000\n1,0.5\n2,0.4\n"), RULES, NONE)  # an index is no count
    assert metrics.status is CheckStatus.REVIEW and "count fewer" not in " ".join(metrics.reasons)
    strict = DataKnowledge(threshold=50)
    assert check_file(_table("region,n\nx,40\ny,60\n"), RULES, strict).status is CheckStatus.FAIL


PEOPLE = [["patient_id", "age_band", "sex", "diagnosis", "los_days"]] + [
    [pseudonym(b"k", f"9001-{i}"), ["40s", "50s"][i % 2], "FM"[i % 2], ["copd", "asthma"][i % 2], str(3 + i)]
    for i in range(6)]


def _knowledge() -> DataKnowledge:
    prints = Prints.empty()
    prints.add_table(PEOPLE[0], PEOPLE[1:], ["patient_id"])
    return DataKnowledge(frozenset({"patient_id"}), frozenset(), frozenset(prints.records),
                         frozenset(prints.identifiers), frozenset(prints.identifier_lengths), frozenset(prints.columns))


def _text(content: str, path: str = "out/a.txt") -> CheckStatus:
    return check_file(_table(content, path), RULES, _knowledge()).status


def test_row_level_data_fails() -> None:
    data = DataKnowledge(frozenset({"patient_id"}), frozenset({row_fingerprint(["p1", "40s", "F"])}))
    ids = check_file(_table("patient_id,n\n1,20\n"), RULES, data)
    assert ids.status is CheckStatus.FAIL and "patient_id" in ids.reasons[0]
    copied = check_file(_table("a,b,c\np1,40s,F\n"), RULES, data)
    assert copied.status is CheckStatus.FAIL and "1 row(s) are copies" in " ".join(copied.reasons)
    pseud = check_file(FileFacts("out/a.txt", FileKind.FILE, 30, b"p_0123456789abcdef01234567 x"), RULES, data)
    assert pseud.status is CheckStatus.FAIL


@pytest.mark.parametrize("disguise", [
    lambda p: base64.b64encode(p.encode()).decode(),
    lambda p: p[::-1],
    str.upper,
    lambda p: p[:8] + "\u200b" + p[8:],
    lambda p: p[2:],  # without its prefix
    lambda p: "р" + p[1:],  # a Cyrillic er for the p
    lambda p: p.encode().hex(),
    lambda p: base64.b64encode(p[::-1].encode()).decode(),
], ids=["base64", "reversed", "upper-case", "zero-width-space", "no-prefix", "confusable", "hex",
        "base64-of-reversed"])
def test_disguised_pseudonyms_are_found(disguise: Callable[[str], str]) -> None:
    assert _text(f"the patient was {disguise(PEOPLE[3][0])} indeed\n") is CheckStatus.FAIL


def test_every_row_without_its_id_column_as_json_fails() -> None:
    records = [dict(zip(PEOPLE[0][1:], row[1:], strict=True)) for row in PEOPLE[1:]]
    got = check_file(_table(json.dumps(records), "out/rows.json"), RULES, _knowledge())
    assert got.status is CheckStatus.FAIL and "6 row(s) are copies" in " ".join(got.reasons)
    shuffled = [{"sex": r["sex"], "los_days": int(r["los_days"]), "diagnosis": r["diagnosis"].upper(),
                 "age_band": r["age_band"]} for r in records]  # other order, numbers as numbers, other case
    assert _text(json.dumps(shuffled), "out/rows.json") is CheckStatus.FAIL
    as_csv = "\n".join(",".join(row[1:]) for row in PEOPLE[1:])
    assert _text(as_csv, "out/rows.csv") is CheckStatus.FAIL
    hidden = base64.b64encode(as_csv.encode()).decode()
    assert _text(hidden, "out/notes.txt") is CheckStatus.FAIL


@pytest.mark.parametrize(("path", "content"), [
    ("out/counts.txt", "age_band  F  M\n40s  3  12\n50s  15  11\n"),
    ("out/counts.txt", "age_band\tF\tM\n40s\t3\t12\n50s\t15\t11\n"),
    ("out/counts.md", "| age_band | F | M |\n|---|---|---|\n| 40s | 3 | 12 |\n| 50s | 15 | 11 |\n"),
    ("out/counts.json", json.dumps({"F": {"40s": 3, "50s": 15}, "M": {"40s": 12, "50s": 11}})),
    ("out/counts.json", json.dumps([{"age_band": "40s", "n": 3}, {"age_band": "50s", "n": 15}])),
], ids=["aligned-text", "tab-text", "markdown", "json-columns", "json-records"])
def test_small_counts_in_text_tables_fail_like_csv(path: str, content: str) -> None:
    got = check_file(_table(content, path), RULES, NONE)
    assert got.status is CheckStatus.FAIL and "count fewer than 10" in " ".join(got.reasons)


def test_prose_and_logs_are_not_mistaken_for_tables() -> None:
    assert _text("mean length of stay: 5.20 days\n", "out/summary.txt") is CheckStatus.PASS
    assert _text("epoch 1 loss 0.5\nepoch 2 loss 0.4\n", "stdout.log") is CheckStatus.PASS


def test_request_limits_apply_to_every_file() -> None:
    files = [FileFacts(f"out/{i}.txt", FileKind.FILE, 400, b"x") for i in range(4)]
    results = check_request(files, RULES, NONE)
    assert all(r.status is CheckStatus.FAIL and "total 1600 bytes" in r.reasons[-1] for r in results.values())


def test_a_pseudonym_in_a_file_name_fails_whatever_the_content() -> None:
    got = check_file(_table("nothing to see\n", f"out/{PEOPLE[2][0][2:].upper()}.txt"), RULES, _knowledge())
    assert got.status is CheckStatus.FAIL and got.reasons[0].startswith("fail: its name contains")
