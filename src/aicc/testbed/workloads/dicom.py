"""A hospital's preprocessing pipeline on the DICOM files ``pydicom`` ships (nothing is downloaded).

Each sample is one whole pass from the file's bytes: parse, decode the pixel data (RLE, big-endian and
implicit-VR files included), rescale to Hounsfield units where the file says how, window, resize to
128 × 128, normalise. Its output is a digest of the result (mean, standard deviation, a 16-bin histogram),
compared with the digest a trusted run stored, so a pipeline that skips a step or decodes wrongly fails.
The class is ``dicom-preprocessing``: the CPU side of a node, which imaging jobs wait on before any model.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from importlib import resources
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from aicc.testbed.workloads.base import Accuracy

FILES = ("CT_small.dcm", "MR_small.dcm", "MR_small_RLE.dcm", "MR_small_bigendian.dcm", "MR_small_implicit.dcm",
         "MR_small_padded.dcm")
"""Files inside pydicom's own package (``pydicom/data/test_files``); asking pydicom's data manager instead
would try to download its larger files."""
REPEAT = 8
"""Each file appears this many times in the data set, so LoadGen has enough distinct sample indices."""
SIZE = 128


class DicomPreprocessing:
    name = "dicom-prep"
    workload_class = "dicom-preprocessing"
    sample_count = len(FILES) * REPEAT
    threshold = 1.0
    rel_tol = 1e-4

    def __init__(self) -> None:
        self._blobs: list[bytes] = []

    def load(self) -> None:
        base = resources.files("pydicom").joinpath("data", "test_files")
        self._blobs = [base.joinpath(f).read_bytes() for f in FILES]

    def _one(self, blob: bytes) -> list[float]:
        import warnings

        import numpy as np
        import pydicom

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # padded or oddly encoded test files warn on every read
            ds = pydicom.dcmread(io.BytesIO(blob))
            img = ds.pixel_array.astype(np.float32)
        slope, intercept = float(ds.get("RescaleSlope", 1) or 1), float(ds.get("RescaleIntercept", 0) or 0)
        img = img * slope + intercept
        if ds.get("Modality") == "CT":
            lo, hi = -160.0, 240.0  # soft-tissue window in HU
        else:
            lo, hi = np.percentile(img, (1.0, 99.0))
        img = np.clip((img - lo) / max(float(hi - lo), 1e-6), 0.0, 1.0)
        rows = (np.arange(SIZE) * img.shape[0] / SIZE).astype(int)
        cols = (np.arange(SIZE) * img.shape[1] / SIZE).astype(int)
        img = img[rows][:, cols]
        hist = np.histogram(img, bins=16, range=(0.0, 1.0))[0]
        return [float(img.mean()), float(img.std()), *(float(h) for h in hist)]

    def predict(self, indices: Sequence[int]) -> list[Any]:
        return [self._one(self._blobs[i % len(FILES)]) for i in indices]

    def check(self, outputs: Mapping[int, Any]) -> Accuracy:
        from aicc.testbed.workloads.ocr import reference

        ref = reference()["dicom-prep"]
        seen = [i for i in outputs if 0 <= i < self.sample_count]
        good = 0
        for i in seen:
            out, want = outputs[i], ref[i % len(FILES)]
            if isinstance(out, list) and len(out) == len(want) and all(
                    isinstance(o, int | float) and abs(o - w) <= self.rel_tol * max(1.0, abs(w))
                    for o, w in zip(out, want, strict=True)):
                good += 1
        return Accuracy("digests equal to reference", good / len(seen) if seen else 0.0, self.threshold, len(seen))

    def provenance(self) -> dict[str, str]:
        out = {"model": "preprocessing pipeline (no model)", "files": ",".join(FILES)}
        for pkg in ("pydicom", "numpy"):
            try:
                out[pkg] = version(pkg)
            except PackageNotFoundError:
                out[pkg] = "absent"
        return out
