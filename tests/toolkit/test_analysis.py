"""The analysis toolkit: fits, windows, hitting times, rate ratios, effective rank."""

import numpy as np
import pytest

import opsense as ops


def test_fit_rate_recovers_exponential_and_respects_window_and_floor():
    t = np.arange(0, 1000, 10.0)
    err = 3.0 * np.exp(-0.02 * t)
    err[t > 800] = 1e-30  # a float floor that must be ignored
    fit = ops.fit_rate(t, err, window=(100, 900), floor=1e-25)
    assert fit.estimate == pytest.approx(0.02, rel=1e-10)
    assert fit.r2 == pytest.approx(1.0) and fit.npoints == 71
    noisy = err * np.exp(0.3 * np.sin(t))
    assert ops.fit_rate(t, noisy, window=(0, 800)).r2 < 0.999


def test_fit_power_and_line():
    x = np.geomspace(1, 1e4, 30)
    assert ops.fit_power(x, 5 * x ** -2.0).estimate == pytest.approx(-2.0)
    assert ops.fit_power(x, 5 * x ** -2.0, window=(10, 100)).npoints == np.sum((x >= 10) & (x <= 100))
    f = ops.fit_line([0, 1, 2, 3], [1, 3, 5, 7.5])
    assert f.slope == pytest.approx(2.15) and 0.99 < f.r2 < 1 and f.stderr > 0
    with pytest.raises(ValueError, match="two"):
        ops.fit_line([1.0], [2.0])
    with pytest.raises(ValueError, match="window"):
        ops.fit_rate(x, x, window=(5, 1))


def test_hitting_time():
    t = np.arange(0, 100, 5)
    h = ops.hitting_time(t, 100.0 - t, 42.0)
    assert h.time == 60 and h.resolution == 5 and h.hit
    assert not ops.hitting_time(t, 100.0 - t, -1.0).hit
    assert ops.hitting_time(t, t.astype(float), 50.0, direction="above").time == 50
    with pytest.raises(ValueError, match="direction"):
        ops.hitting_time(t, t, 1.0, direction="up")


def test_rate_window_and_late_rate():
    t = np.arange(0, 1001, 10.0)
    err = np.exp(-0.05 * t)
    err[t > 800] = 1e-30  # a floor
    lo, hi = ops.rate_window(t, err, start=200, floor=1e-20)
    assert hi == 800 and lo == 500
    fit = ops.late_rate(t, err, start=200, floor=1e-20)
    assert fit.estimate == pytest.approx(0.05, rel=1e-9)
    with pytest.raises(ValueError, match="start"):
        ops.rate_window(t, err, start=900, floor=1e-20)



def test_effective_rank():
    s = np.array([[1.0, 0.5, 0.009, 0.0], [2.0, 0.02, 0.019, 0.0], [0.0, 0.0, 0.0, 0.0]])
    assert ops.effective_rank(s).tolist() == [2, 2, 0]
    assert ops.effective_rank(s, rel_threshold=0.001).tolist() == [3, 3, 0]
    assert ops.effective_rank(s[None]).shape == (1, 3)
    with pytest.raises(ValueError, match="rel_threshold"):
        ops.effective_rank(s, rel_threshold=1.5)
    with pytest.raises(ValueError, match="singular_values"):
        ops.effective_rank(-s)



def test_rate_ratio_is_one_for_linear_and_below_one_for_power_laws():
    t = np.arange(0, 1000.0)
    assert ops.rate_ratio(t, np.exp(-0.01 * t), window=(100, 900)) == pytest.approx(1.0)
    power = ops.rate_ratio(t + 1, (t + 1) ** -2.0, window=(100, 900))
    assert power == pytest.approx(ops.rate_ratio(t + 1, (t + 1) ** -0.5, window=(100, 900)))  # any exponent
    assert 0.3 < power < 0.5
    with pytest.raises(ValueError, match="window"):
        ops.rate_ratio(t, np.exp(-t), window=(5, 5))


def test_windows_and_times_are_validated_naming_the_argument():
    t = np.arange(0, 100.0)
    for window in (5, (5,), ("a", 9), (9, 5), (np.nan, 5)):
        with pytest.raises(ValueError, match="window"):
            ops.fit_rate(t, np.exp(-t), window=window)
    with pytest.raises(ValueError, match="strictly increasing"):
        ops.hitting_time(t[::-1], t, 3.0)


def test_initial_factors_refuse_a_scale_that_overflows():
    with pytest.raises(ValueError, match="alpha"):
        ops.initial_factors(5, 5, 2, 1e308)
