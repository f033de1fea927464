"""Fits, hitting times, claims tables and chapter presets."""

import json

import numpy as np
import pytest

import opsense as ms


def test_fit_rate_recovers_exponential_and_respects_window_and_floor():
    t = np.arange(0, 1000, 10.0)
    err = 3.0 * np.exp(-0.02 * t)
    err[t > 800] = 1e-30  # a float floor that must be ignored
    fit = ms.fit_rate(t, err, window=(100, 900), floor=1e-25)
    assert fit.estimate == pytest.approx(0.02, rel=1e-10)
    assert fit.r2 == pytest.approx(1.0) and fit.npoints == 71
    noisy = err * np.exp(0.3 * np.sin(t))
    assert ms.fit_rate(t, noisy, window=(0, 800)).r2 < 0.999


def test_fit_power_and_line():
    x = np.geomspace(1, 1e4, 30)
    assert ms.fit_power(x, 5 * x ** -2.0).estimate == pytest.approx(-2.0)
    assert ms.fit_power(x, 5 * x ** -2.0, window=(10, 100)).npoints == np.sum((x >= 10) & (x <= 100))
    f = ms.fit_line([0, 1, 2, 3], [1, 3, 5, 7.5])
    assert f.slope == pytest.approx(2.15) and 0.99 < f.r2 < 1 and f.stderr > 0
    with pytest.raises(ValueError, match="two"):
        ms.fit_line([1.0], [2.0])
    with pytest.raises(ValueError, match="window"):
        ms.fit_rate(x, x, window=(5, 1))


def test_hitting_time():
    t = np.arange(0, 100, 5)
    h = ms.hitting_time(t, 100.0 - t, 42.0)
    assert h.time == 60 and h.resolution == 5 and h.hit
    assert not ms.hitting_time(t, 100.0 - t, -1.0).hit
    assert ms.hitting_time(t, t.astype(float), 50.0, direction="above").time == 50
    with pytest.raises(ValueError, match="direction"):
        ms.hitting_time(t, t, 1.0, direction="up")


def test_claims_pass_fail_json(tmp_path):
    ok = [ms.claim_between("X.slope", "slope in range", -1.9, -2.2, -1.6, tolerance="theory"),
          ms.claim_close("X.const", "constant", 0.248, 0.25, rtol=0.03, tolerance="3%"),
          ms.claim_true("X.order", "ordered", True, measured="a < b", predicted="a < b", tolerance="exact")]
    table = ms.check_claims(ok, chapter="x", results_dir=tmp_path, parameters={"seed": 0, "f": object()})
    text = repr(table)
    assert "3 claims, 3 hold, 0 fail" in text and "-1.9" in text and "0.25 ± 3%" in text
    assert "<table" in table._repr_html_()
    doc = json.loads((tmp_path / "claims.json").read_text())
    assert doc["chapter"] == "x" and len(doc["claims"]) == 3 and doc["parameters"] == {"seed": 0}
    bad = ok + [ms.claim_close("X.bad", "bad one", 1.1, 1.0, atol=0.05, tolerance="abs")]
    with pytest.raises(ms.ClaimsFailed, match=r"(?s)1 of 4 claims.*X\.bad"):
        ms.check_claims(bad, chapter="x", results_dir=tmp_path)
    assert json.loads((tmp_path / "claims.json").read_text())["claims"][3]["holds"] is False
    with pytest.raises(ValueError, match="claims"):
        ms.check_claims([], chapter="x")
    with pytest.raises(ValueError, match="rtol"):
        ms.claim_close("a", "b", 1.0, 1.0, tolerance="t")


def test_configure_validates_parameters():
    presets = {"book": dict(n=20, alphas=[0.1, 0.2], eta=0.1, seed0=0, flag=False),
               "paper": dict(n=50, alphas=[0.1], eta=0.05, seed0=0, flag=True)}
    P = ms.configure("book", presets, n=None, alphas=[0.3], eta=None)
    assert P.n == 20 and P.alphas == [0.3] and P.eta == 0.1 and P.preset == "book" and P.results_dir is None
    assert ms.configure("paper", presets).n == 50
    assert ms.configure("book", presets, alphas="[0.5, 0.25]").alphas == [0.5, 0.25]  # papermill -p text
    for kwargs, name in [(dict(n=-3), "n"), (dict(n=2.5), "n"), (dict(alphas=[0.1, -1.0]), r"alphas\[1\]"),
                         (dict(alphas=[]), "alphas"), (dict(alphas="[0.1,"), "alphas"), (dict(eta="fast"), "eta"), (dict(flag=1), "flag"),
                         (dict(m=3), "unknown parameter")]:
        with pytest.raises(ValueError, match=name):
            ms.configure("book", presets, **kwargs)
    with pytest.raises(ValueError, match="preset"):
        ms.configure("huge", presets)
    with pytest.raises(ValueError, match="results_dir"):
        ms.configure("book", presets, results_dir=3)
