"""``bench.tasks.libm``: the C library's exp, log, cos and sin, bit for bit, whatever numpy's own kernels do."""

from __future__ import annotations

import math

import numpy as np

from bench.tasks.libm import cos, exp, log, sin


def test_exp_log_cos_and_sin_are_the_c_librarys_bit_for_bit():
    rng = np.random.default_rng(3)
    x = np.concatenate([rng.uniform(-700, 700, 5000), rng.normal(size=5000)])
    y = np.concatenate([rng.uniform(1e-300, 1e300, 5000), rng.uniform(0, 2, 5000)])
    np.testing.assert_array_equal(exp(x), [math.exp(v) for v in x])
    np.testing.assert_array_equal(log(y), [math.log(v) for v in y])
    angles = np.concatenate([rng.uniform(-1e4, 1e4, 5000), rng.normal(size=5000)])
    np.testing.assert_array_equal(cos(angles), [math.cos(v) for v in angles])
    np.testing.assert_array_equal(sin(angles), [math.sin(v) for v in angles])
    with np.errstate(divide="ignore"):
        assert log(np.array([0.0]))[0] == -np.inf and exp(np.array([-np.inf]))[0] == 0.0
    assert exp(2.0).shape == () and log([1.0, math.e]).tolist() == [0.0, 1.0]


def test_without_a_writable_cache_folder_the_function_is_compiled_without_disk_cache():
    import pytest

    from bench.tasks.libm import with_disk_cache

    def make(cache):
        def decorate(function):
            if cache:  # numba's error where no cache folder is writable
                raise RuntimeError(f"cannot cache function {function.__name__!r}: no locator available for file 'x'")
            return ("compiled without cache", function)

        return decorate

    assert with_disk_cache(make, math.exp) == ("compiled without cache", math.exp)
    assert with_disk_cache(lambda cache: lambda f: ("cached", cache), math.exp) == ("cached", True)

    def broken(cache):
        def decorate(function):
            raise RuntimeError("something else")

        return decorate

    with pytest.raises(RuntimeError, match="something else"):  # other errors are not swallowed
        with_disk_cache(broken, math.exp)
