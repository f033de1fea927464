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
    assert "2 claims: 1 hold, 1 do not reproduce (documented), 0 unexpected" in text and "theory" in text
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


# ----------------------------------------------------------------------------- instance intervals
from opsense.stats import instance_interval  # noqa: E402


def test_close_on_an_interval_holds_when_the_interval_meets_the_band():
    iv = instance_interval([0.95, 1.0, 1.05, 1.0, 0.98])
    c = ops.close("x.a", "a", iv, 1.08, rtol=0.05, basis="theory")
    assert c.test == "overlaps" and c.n == 5 and c.measured == pytest.approx(iv.mean)
    assert c.verdict == "holds"  # [0.951, 1.04] meets [1.026, 1.134]
    assert ops.close("x.a", "a", iv, 1.3, rtol=0.05, basis="theory").verdict == "fails"
    assert "(n=5)" in c.measured_text() and "[" in c.measured_text()


def test_a_bound_on_an_interval_needs_the_whole_interval_beyond_it():
    iv = instance_interval([2.0, 2.5, 3.0, 2.2, 2.8])  # 2.5 [1.99, 3.01]
    assert ops.at_least("x.b", "b", iv, 1.9, basis="theory").verdict == "holds"
    assert ops.at_least("x.b", "b", iv, 2.3, basis="theory").verdict == "fails"  # mean 2.5 > 2.3, interval not
    assert ops.at_least("x.b", "b", iv, 2.3, basis="theory", test="overlaps").verdict == "holds"
    assert ops.at_least("x.b", "b", iv, 2.3, basis="theory").form == "bound"


def test_interval_claims_survive_the_json_round_trip_and_forms_are_checked():
    iv = instance_interval([1.0, 1.1, 0.9])
    cl = [ops.close("x.a", "a", iv, 1.0, rtol=0.1, basis="theory", form="scaling"),
          ops.between("x.b", "b", 0.5, 0, 1, basis="derived-on-page")]
    doc = ops.evaluate_claims(cl, chapter="x").to_json()
    back = ops.read_claims(json.loads(json.dumps(doc)))
    assert back.claims == cl and back.claims[0].values == (1.0, 1.1, 0.9) and back.claims[0].form == "scaling"
    with pytest.raises(ValueError, match="form must be one of"):
        ops.between("x.c", "c", 0.5, 0, 1, basis="theory", form="vibes")
    with pytest.raises(ValueError, match="needs an Interval"):
        ops.between("x.c", "c", 0.5, 0, 1, basis="theory", test="inside")
    doc["claims"][0]["ci_lo"] = 5.0
    with pytest.raises(ops.claims.ClaimsDataError, match="disagrees"):
        ops.read_claims(doc)


def test_schema_1_documents_still_read():
    doc = ops.evaluate_claims([ops.between("x.b", "b", 0.5, 0, 1, basis="theory")], chapter="x").to_json()
    doc["schema"] = 1
    for key in ("form", "test", "ci_lo", "ci_hi", "n", "values"):
        doc["claims"][0].pop(key)
    assert ops.read_claims(doc).claims[0].verdict == "holds"


def test_a_nan_interval_keeps_the_values_and_fails_every_claim_form():
    import math

    from opsense.claims import at_least, between, close
    from opsense.stats import instance_interval_or_nan

    good = instance_interval_or_nan([1.0, 1.1, 0.9, 1.05, 0.95])
    assert good == instance_interval([1.0, 1.1, 0.9, 1.05, 0.95])
    for values, log in (([1.0, float("nan"), 1.2], False), ([1.0], False), ([1.0, -1.0, 2.0], True)):
        iv = instance_interval_or_nan(values, log=log)
        assert math.isnan(iv.mean) and math.isnan(iv.lo) and math.isnan(iv.hi) and iv.n == len(values)
        assert len(iv.values) == len(values) and iv.log == log
        for claim in (close("t.c", "s", iv, 1.0, rtol=0.5, basis="theory"),
                      between("t.b", "s", iv, 0.0, 2.0, basis="theory"),
                      at_least("t.a", "s", iv, 0.0, basis="theory")):
            assert claim.verdict == "fails", claim
