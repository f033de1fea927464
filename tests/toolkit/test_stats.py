"""Instance intervals: Student-t quantiles and the mean's 95% interval."""

import math

import numpy as np
import pytest

from opsense.stats import Interval, instance_interval, t_quantile


@pytest.mark.parametrize("df, q", [(1, 12.706204736), (2, 4.302652730), (4, 2.776445105), (9, 2.262157163),
                                   (29, 2.045229642), (120, 1.979930405)])
def test_t_quantiles_match_the_tables(df, q):
    assert t_quantile(0.975, df) == pytest.approx(q, rel=1e-8)
    assert t_quantile(0.025, df) == pytest.approx(-q, rel=1e-8)


def test_interval_is_mean_plus_minus_t_s_over_root_n():
    iv = instance_interval([1.0, 2.0, 3.0, 4.0, 5.0])
    half = 2.776445105 * math.sqrt(2.5) / math.sqrt(5)
    assert iv.mean == 3.0 and iv.n == 5 and iv.lo == pytest.approx(3 - half) and iv.hi == pytest.approx(3 + half)
    assert iv.halfwidth == pytest.approx(half) and iv.values == (1.0, 2.0, 3.0, 4.0, 5.0)


def test_log_interval_is_multiplicative_around_the_geometric_mean():
    iv = instance_interval([0.5, 2.0], log=True)
    assert iv.mean == pytest.approx(1.0) and iv.lo * iv.hi == pytest.approx(1.0) and iv.log


def test_coverage_of_the_95_percent_interval_is_about_95_percent():
    rng = np.random.default_rng(0)
    draws = rng.normal(1.0, 2.0, size=(4000, 5))
    hits = sum((iv := instance_interval(row)).lo <= 1.0 <= iv.hi for row in draws)
    assert 0.94 <= hits / 4000 <= 0.96


@pytest.mark.parametrize("values, kw, match", [([1.0], {}, "at least 2"), ([1.0, float("nan")], {}, "finite"),
                                                ([1.0, -1.0], {"log": True}, "> 0"), ("ab", {}, "real numbers"),
                                                ([1.0, 2.0], {"level": 1.0}, "level")])
def test_bad_values_are_refused(values, kw, match):
    with pytest.raises(ValueError, match=match):
        instance_interval(values, **kw)


def test_str_shows_mean_interval_and_count():
    assert str(Interval(1.0, 0.5, 1.5, 5, (1.0,) * 5)) == "1 [0.5, 1.5] (n=5)"
