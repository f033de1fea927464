"""configure: presets, types, and the chapter's own check, in one call."""

import types

import pytest

import opsense as ops
from opsense.config import merge

PRESETS = {"book": dict(n=20, alphas=[0.1, 0.2], eta=0.1, seed=0, flag=False),
           "paper": dict(n=50, alphas=[0.1], eta=0.05, seed=0, flag=True)}


def test_merge_validates_types_against_the_preset():
    P = merge("book", PRESETS, n=None, alphas=[0.3], eta=None)
    assert P.n == 20 and P.alphas == [0.3] and P.eta == 0.1 and P.preset == "book" and P.results_dir is None
    assert merge("paper", PRESETS).n == 50
    assert merge("book", PRESETS, alphas="[0.5, 0.25]").alphas == [0.5, 0.25]  # papermill -p text
    assert P.as_dict()["n"] == 20
    for kwargs, name in [(dict(n=-3), "n"), (dict(n=2.5), "n"), (dict(alphas=[0.1, -1.0]), r"alphas\[1\]"),
                         (dict(alphas=[]), "alphas"), (dict(alphas="[0.1,"), "alphas"), (dict(eta="fast"), "eta"),
                         (dict(flag=1), "flag"), (dict(m=3), "unknown parameter"), (dict(seed=-1), "seed")]:
        with pytest.raises(ValueError, match=name):
            merge("book", PRESETS, **kwargs)
    with pytest.raises(ValueError, match="preset"):
        merge("huge", PRESETS)
    with pytest.raises(ValueError, match="results_dir"):
        merge("book", PRESETS, results_dir=3)


def test_configure_runs_the_chapter_check_after_the_types():
    seen = []

    def check(P):
        seen.append(P.n)
        if P.n > 40:
            raise ValueError(f"parameter n must be <= 40, got {P.n}")

    chapter = types.SimpleNamespace(PRESETS=PRESETS, check=check)
    assert ops.configure(chapter, "book").n == 20
    with pytest.raises(ValueError, match="parameter n must be <= 40"):
        ops.configure(chapter, "paper")
    with pytest.raises(ValueError, match="an integer"):   # the type is refused before check runs
        ops.configure(chapter, "book", n="x")
    assert seen == [20, 50]
    with pytest.raises(ValueError, match="chapter module"):
        ops.configure(types.SimpleNamespace(PRESETS=PRESETS), "book")


def test_regime_warns_once_naming_every_violated_condition():
    import warnings

    from opsense.config import OutsideRegimeWarning, regime

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert regime("x", [(True, "fine"), (False, "m >= 240 (m = 200)"), (False, "kappa <= 10")]) == [
            "m >= 240 (m = 200)", "kappa <= 10"]
        assert regime("x", [(True, "fine")]) == []
    assert len(caught) == 1 and caught[0].category is OutsideRegimeWarning
    assert "m >= 240 (m = 200); kappa <= 10" in str(caught[0].message) and "chapter x" in str(caught[0].message)
    with pytest.raises(ValueError, match="pairs"):
        regime("x", [False])
