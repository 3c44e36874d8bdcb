"""The data zone's pure rules: pseudonyms, k-anonymity and output checks."""

from __future__ import annotations

import pytest

from aicc.core.datazone.checks import (
    CheckStatus,
    DataKnowledge,
    FileFacts,
    FileKind,
    OutputRules,
    acro_statuses,
    check_file,
    check_request,
)
from aicc.core.datazone.datasets import k_anonymity, parse_columns, pseudonym, pseudonymize, row_fingerprint
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


def _table(text: str, **kw: object) -> FileFacts:
    data = text.encode()
    return FileFacts("out/t.csv", FileKind.FILE, len(data), data, **kw)  # type: ignore[arg-type]


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


def test_plain_text_passes_and_tables_without_acro_need_review() -> None:
    assert check_file(FileFacts("out/a.txt", FileKind.FILE, 2, b"ok"), RULES, NONE).status is CheckStatus.PASS
    t = check_file(_table("region,n\nx,40\n"), RULES, NONE)
    assert t.status is CheckStatus.REVIEW and "aicc.datazone" in t.reasons[0]
    assert check_file(_table("region,n\nx,40\n", acro_status="pass"), RULES, NONE).status is CheckStatus.PASS
    assert check_file(_table("region,n\nx,4\n", acro_status="fail", acro_detail="MinimumThresholdCheck"),
                      RULES, NONE).status is CheckStatus.FAIL


def test_row_level_data_fails() -> None:
    data = DataKnowledge(frozenset({"patient_id"}), frozenset({row_fingerprint(["p1", "40s", "F"])}))
    ids = check_file(_table("patient_id,n\n1,2\n", acro_status="pass"), RULES, data)
    assert ids.status is CheckStatus.FAIL and "patient_id" in ids.reasons[0]
    copied = check_file(_table("a,b,c\np1,40s,F\n", acro_status="pass"), RULES, data)
    assert copied.status is CheckStatus.FAIL and "1 row(s) are copies" in copied.reasons[0]
    pseud = check_file(FileFacts("out/a.txt", FileKind.FILE, 30, b"p_0123456789abcdef01234567 x"), RULES, data)
    assert pseud.status is CheckStatus.FAIL


def test_request_limits_apply_to_every_file() -> None:
    files = [FileFacts(f"out/{i}.txt", FileKind.FILE, 400, b"x") for i in range(4)]
    results = check_request(files, RULES, NONE)
    assert all(r.status is CheckStatus.FAIL and "total 1600 bytes" in r.reasons[-1] for r in results.values())


def test_acro_results_map_only_to_files_that_exist() -> None:
    results = {"results": {
        "output_0": {"status": "fail", "summary": "MinimumThresholdCheck: fail", "files": [{"name": "output_0_0.csv"}]},
        "output_1": {"status": "pass", "files": [{"name": "output_1_0.csv"}]},
        "forged": {"status": "pass", "files": [{"name": "../../etc/passwd"}, {"name": "ghost.csv"}]},
    }}
    got = acro_statuses(results, {"acro/output_0_0.csv", "acro/output_1_0.csv"})
    assert got["acro/output_0_0.csv"][0] == "fail" and "MinimumThreshold" in got["acro/output_0_0.csv"][1]
    assert got["acro/output_1_0.csv"][0] == "pass"
    assert set(got) == {"acro/output_0_0.csv", "acro/output_1_0.csv"}
