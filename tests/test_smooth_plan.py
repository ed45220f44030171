"""The batched smoothing plan: its compiled filter and scale boxcar are numpy's operator."""

from __future__ import annotations

import numpy as np
import pytest

from interbrain.synchrony import WaveletGrid
from interbrain.synchrony.wavelet.smoothing import smooth_plan


def numpy_smooth(plan, g, Z, signs):
    """The filter and the scale boxcar of group ``g`` as numpy expressions (the operator
    the compiled pass replaced): ``w * (Z * filt)`` summed over the taps in order."""
    src = Z[..., g.src0:g.src1, :signs, :g.n_pos] * g.filt[:, :signs, :]
    ns, nb = g.src1 - g.src0, g.band1 - g.band0
    out = np.zeros(src.shape[:-3] + (nb,) + src.shape[-2:], dtype=src.dtype)
    for t, w in plan.kernel:
        shift = g.band0 + plan.b0 + t - plan.half - g.src0
        i0, i1 = max(0, -shift), min(nb, ns - shift)
        if i1 > i0:
            out[..., i0:i1, :, :] += w * src[..., i0 + shift:i1 + shift, :, :]
    return out


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("band", [(5.0, 100.0), (10.0, 40.0), None])
def test_compiled_smoothing_is_numpys_bit_for_bit(dtype, band):
    rng = np.random.default_rng(4)
    grid = WaveletGrid.build(3000, 0.1, band=band, dtype=dtype)
    plan = smooth_plan(grid)
    shape = (3, plan.n_rows, 2, plan.width)
    Z = (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(
        grid.complex_dtype)
    real = np.dtype(grid.real_dtype)
    assert len(plan.groups) >= 2
    for g in plan.groups:
        for z, signs in ((Z, 2), (Z[0, :, :1], 1), (Z[1], 2)):   # pairs, a channel, 3-D
            got, want = plan.smooth(g, z, signs), numpy_smooth(plan, g, z, signs)
            assert got.shape == want.shape and got.dtype == want.dtype
            assert np.array_equal(got.view(real), want.view(real))
