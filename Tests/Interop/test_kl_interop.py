"""KL (entropy) calibration against ONNX Runtime's entropy calibrator on the same data: the ranges
agree within one histogram bin."""
import io
import contextlib

import numpy as np
import pytest
from onnxruntime.quantization.calibrate import HistogramCollector

from conftest import run_tool


def onnxruntime_range(x, bins, quantized):
    collector = HistogramCollector(method="entropy", symmetric=True, num_bins=bins, num_quantized_bins=quantized,
                                   percentile=99.999, scenario="same")
    with contextlib.redirect_stdout(io.StringIO()):  # it prints progress
        collector.collect({"x": x})
        lower, upper = collector.compute_collection_result()["x"][:2]
    return float(lower), float(upper), float(np.abs(x).max()) * 2 / bins


@pytest.mark.parametrize("bins, quantized", [(512, 128), (1024, 128), (2048, 128), (512, 8)])
@pytest.mark.parametrize("dist", ["normal", "laplace", "outliers", "skewed", "relu"])
def test_kl_range_matches_onnxruntime(dist, bins, quantized, tmp):
    rng = np.random.default_rng(len(dist) * 31 + bins + quantized)
    x = {
        "normal": lambda: rng.standard_normal(50_000),
        "laplace": lambda: rng.laplace(size=50_000),
        "outliers": lambda: np.concatenate([rng.standard_normal(50_000), [40.0, -35.0, 25.0]]),
        "skewed": lambda: rng.gamma(2.0, size=50_000) - 1.0,
        "relu": lambda: np.maximum(rng.standard_normal(50_000), 0),
    }[dist]().astype(np.float32)
    path = tmp / "x.f32"
    path.write_bytes(x.tobytes())
    lower, upper = map(float, run_tool("kl-range", bins, quantized, path).split())
    ref_lower, ref_upper, width = onnxruntime_range(x, bins, quantized)
    assert abs(lower - ref_lower) <= width * 1.001 and abs(upper - ref_upper) <= width * 1.001, \
        (dist, (lower, upper), (ref_lower, ref_upper), width)
