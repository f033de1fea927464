"""Claims as data: bounds, basis, verdicts, displayed digits, the notebook bundle, claims.json."""

import json
import math

import pytest

import opsense as ops
from opsense import claims as C


def test_constructors_give_numeric_bounds_and_verdicts():
    a = ops.between("x.a", "in range", -1.9, -2.2, -1.6, basis="theory")
    b = ops.close("x.b", "close", 0.248, 0.25, rtol=0.03, basis="derived-on-page")
    c = ops.at_most("x.c", "small", 2e-16, 1e-12, basis="identity")
    d = ops.at_least("x.d", "large", 3.0, 5.0, basis="specification")
    assert (a.lo, a.hi, a.verdict) == (-2.2, -1.6, "holds")
    assert b.lo == pytest.approx(0.2425) and b.hi == pytest.approx(0.2575) and b.holds
    assert c.lo == -math.inf and c.predicted() == "<= 1e-12" and c.holds
    assert d.hi == math.inf and d.verdict == "fails" and d.predicted() == ">= 5"
    assert b.predicted() == "0.25 ± 3%"
    assert ops.close("x.e", "abs", 1.1, 1.0, atol=0.05, basis="theory").verdict == "fails"


def test_expected_failure_is_does_not_reproduce_and_only_when_it_fails():
    dnr = ops.at_least("x.d", "large", 3.0, 5.0, basis="theory", expected_failure="the paper's regime needs n >> k")
    assert dnr.verdict == "does not reproduce"
    ok = ops.at_least("x.e", "large", 6.0, 5.0, basis="theory", expected_failure="reason")
    assert ok.verdict == "holds"
    assert C.verdict_of(float("nan"), 0.0, 1.0) == "fails"


@pytest.mark.parametrize("kwargs, match", [
    (dict(basis="guess"), "basis"),
    (dict(measured=True), "bool"),
    (dict(measured="0.5"), "real number"),
    (dict(lo=2.0), "lo <= hi"),
    (dict(id="has space"), "id"),
    (dict(expected_failure="  "), "expected_failure"),
])
def test_constructors_refuse_bad_input(kwargs, match):
    args = dict(id="x.a", statement="s", measured=0.5, lo=0.0, hi=1.0, basis="theory")
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        ops.between(args.pop("id"), args.pop("statement"), args.pop("measured"), args.pop("lo"), args.pop("hi"),
                    **args)


def test_close_needs_exactly_one_tolerance():
    with pytest.raises(ValueError, match="rtol"):
        ops.close("a", "b", 1.0, 1.0, basis="theory")
    with pytest.raises(ValueError, match="rtol"):
        ops.close("a", "b", 1.0, 1.0, rtol=0.1, atol=0.1, basis="theory")


def test_displayed_values_are_never_rounded_onto_a_bound():
    assert C.format_measured(0.99988, (0.999, math.inf)) == "0.99988"   # 3 digits would show "1"
    assert C.format_measured(0.9985, (0.999,)) == "0.9985"             # 3 digits would show 0.999 (on the bound)
    assert C.format_measured(0.5, (0.0, 1.0)) == "0.5"
    assert C.format_measured(float("nan"), (0.0,)) == "nan"
    claim = ops.at_least("x.r2", "R^2", 0.99988, 0.999, basis="specification")
    assert claim.measured_text() == "0.99988"


def test_evaluate_writes_json_bundle_and_raises_on_failures(tmp_path):
    good = [ops.between("x.a", "a", 0.5, 0.0, 1.0, basis="theory", tolerance="why"),
            ops.at_most("x.dnr", "b", 2.0, 1.0, basis="theory", expected_failure="known")]
    table = ops.evaluate_claims(good, chapter="x", parameters={"seed": 0, "f": object()}, results_dir=tmp_path)
    text = repr(table)
    assert "2 claims: 1 hold, 0 fail, 1 do not reproduce" in text and "theory" in text
    bundle = table._repr_mimebundle_()
    assert set(bundle) == {"text/plain", "text/html", C.MIME_TYPE}
    doc = json.loads((tmp_path / "claims.json").read_text())
    assert doc == ops.claims.bundle_document(bundle[C.MIME_TYPE]) == json.loads(bundle[C.MIME_TYPE])
    assert doc["parameters"] == {"seed": 0} and doc["claims"][0]["measured"] == 0.5
    assert doc["claims"][1]["verdict"] == "does not reproduce" and doc["claims"][1]["lo"] == "-inf"
    again = ops.read_claims(doc)
    assert [c.verdict for c in again.claims] == ["holds", "does not reproduce"]
    bad = good + [ops.close("x.bad", "bad one", 1.1, 1.0, atol=0.05, basis="specification")]
    with pytest.raises(ops.ClaimsFailed, match=r"(?s)1 of 3 claims.*x\.bad"):
        ops.evaluate_claims(bad, chapter="x", results_dir=tmp_path)
    assert json.loads((tmp_path / "claims.json").read_text())["claims"][2]["verdict"] == "fails"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".tmp")]


def test_evaluate_refuses_empty_and_duplicate_claims():
    with pytest.raises(ValueError, match="claims"):
        ops.evaluate_claims([], chapter="x")
    a = ops.between("x.a", "a", 0.5, 0.0, 1.0, basis="theory")
    with pytest.raises(ValueError, match="unique"):
        ops.evaluate_claims([a, a], chapter="x")


@pytest.mark.parametrize("mutate, match", [
    (lambda d: d.pop("claims"), "claims"),
    (lambda d: d.update(claims=[]), "claims"),
    (lambda d: d.update(schema=7), "schema"),
    (lambda d: d["claims"][0].update(verdict="no"), "disagrees"),
    (lambda d: d["claims"][0].update(verdict="holds", measured=5.0), "disagrees"),
    (lambda d: d["claims"][0].update(measured="0.5"), "measured"),
    (lambda d: d["claims"][0].pop("basis"), "basis"),
    (lambda d: d["claims"][0].update(basis="vibes"), "basis"),
    (lambda d: d["claims"].append(3), "object"),
])
def test_read_claims_refuses_a_corrupt_document(mutate, match):
    doc = ops.evaluate_claims([ops.between("x.a", "a", 0.5, 0.0, 1.0, basis="theory")], chapter="x").to_json()
    doc = json.loads(json.dumps(doc))
    mutate(doc)
    with pytest.raises(C.ClaimsDataError, match=match):
        ops.read_claims(doc)
    with pytest.raises(C.ClaimsDataError, match="object"):
        ops.read_claims([doc])
