"""OCR workloads on the PP-OCR ONNX models that ``rapidocr-onnxruntime`` ships (nothing is downloaded).

The data set is made, not fetched: text lines drawn from a fixed seed and rendered with Pillow's bundled
font, so every machine builds the same inputs. Two workloads:

- ``ocr-rec`` (class ``ocr-inference``): the PP-OCRv4 recognition model, CTC-decoded to a string; the
  reference is the string a trusted run decoded for each line.
- ``ocr-cls`` (class ``ocr-orientation``): the text-direction classifier (0° or 180°) on lines of which every
  other one is upside down; the reference is the label per line.

The reference is compared as *agreement*, not bit-equality, so a different CPU, GPU or ONNX Runtime version
may round differently and still pass, while a broken model or a corrupted output cannot.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
from collections.abc import Mapping, Sequence
from importlib import resources
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from aicc.testbed.workloads.base import Accuracy

ALPHABET = "ABDEFGHJLMNQRTY34678abdefghmnqrt"
"""Characters whose upper and lower case (or digit look-alike) differ in the bundled font: the ground truth
stays unambiguous (s/S, o/0, 9/g would not)."""
SAMPLES = 64
SEED = 2026
REFERENCE = "reference_outputs.json"
MODEL_PACKAGE = "rapidocr_onnxruntime"


def text_lines(n: int = SAMPLES, seed: int = SEED) -> list[str]:
    rng = random.Random(seed)
    return ["".join(rng.choice(ALPHABET) for _ in range(rng.randint(5, 10))) for _ in range(n)]


def _model_path(filename: str) -> Path:
    return Path(str(resources.files(MODEL_PACKAGE).joinpath("models", filename)))


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _threads() -> int:
    """AICC_TESTBED_THREADS, else the cores the job was given (AICC sets OMP_NUM_THREADS), else all visible."""
    for var in ("AICC_TESTBED_THREADS", "OMP_NUM_THREADS"):
        value = os.environ.get(var, "")
        if value.isdigit() and int(value) > 0:
            return int(value)
    return max(1, len(os.sched_getaffinity(0)))


def _session(path: Path) -> Any:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = _threads()
    opts.inter_op_num_threads = 1
    # Idle worker threads sleep instead of spinning: on a node shared with other jobs (or a VM whose cores
    # are shared) spinning threads steal the cores the computation needs, and tail latency explodes.
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    wanted = [p for p in ("CUDAExecutionProvider", "ROCMExecutionProvider") if p in ort.get_available_providers()]
    return ort.InferenceSession(str(path), opts, providers=[*wanted, "CPUExecutionProvider"])


def reference() -> dict[str, Any]:
    text = resources.files("aicc.testbed.workloads").joinpath("data", REFERENCE).read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


class _OcrBase:
    name = ""
    workload_class = ""
    model_file = ""
    width = 320
    sample_count = SAMPLES

    def __init__(self) -> None:
        self.lines = text_lines()
        self._inputs: Any = None
        self._session: Any = None

    def _render(self, text: str, flip: bool) -> Any:
        import numpy as np
        from PIL import Image, ImageDraw, ImageFont

        font = ImageFont.load_default(size=28)
        img = Image.new("RGB", (320, 48), "white")
        ImageDraw.Draw(img).text((6, 8), text, fill="black", font=font)
        if self.width != 320:
            img = img.resize((self.width, 48))
        if flip:
            img = img.rotate(180)
        arr = (np.asarray(img, dtype=np.float32) / 255.0 - 0.5) / 0.5
        return arr.transpose(2, 0, 1)

    def _flip(self, i: int) -> bool:
        return False

    def load(self) -> None:
        import numpy as np

        self._session = _session(_model_path(self.model_file))
        self._inputs = np.stack([self._render(t, self._flip(i)) for i, t in enumerate(self.lines)])

    def _run(self, indices: Sequence[int]) -> Any:
        sess = self._session
        return sess.run(None, {sess.get_inputs()[0].name: self._inputs[list(indices)]})[0]

    def provenance(self) -> dict[str, str]:
        path = _model_path(self.model_file)
        out = {"model": self.model_file, "model_sha256": _sha256(path)}
        for pkg in (MODEL_PACKAGE.replace("_", "-"), "onnxruntime", "numpy", "pillow"):
            try:
                out[pkg] = version(pkg)
            except PackageNotFoundError:
                out[pkg] = "absent"
        if self._session is not None:
            out["providers"] = ",".join(self._session.get_providers())
        return out


class TextRecognition(_OcrBase):
    name = "ocr-rec"
    workload_class = "ocr-inference"
    model_file = "ch_PP-OCRv4_rec_infer.onnx"
    threshold = 0.95

    def load(self) -> None:
        super().load()
        chars = self._session.get_modelmeta().custom_metadata_map["character"].splitlines()
        self._charset = ["", *chars, " "]  # CTC blank first; the model's last class is a space

    def predict(self, indices: Sequence[int]) -> list[Any]:
        best = self._run(indices).argmax(-1)
        out = []
        for row in best:
            chars, prev = [], -1
            for k in row:
                if k != prev and k != 0:
                    chars.append(self._charset[int(k)])
                prev = k
            out.append("".join(chars).strip())
        return out

    def check(self, outputs: Mapping[int, Any]) -> Accuracy:
        ref = reference()["ocr-rec"]
        seen = [i for i in outputs if 0 <= i < len(ref)]
        agree = sum(outputs[i] == ref[i] for i in seen)
        truth = sum(str(outputs[i]).replace(" ", "") == self.lines[i] for i in seen)
        n = len(seen)
        return Accuracy("agreement with reference strings", agree / n if n else 0.0, self.threshold, n,
                        {"exact_match_with_ground_truth": truth / n if n else 0.0})


class TextOrientation(_OcrBase):
    name = "ocr-cls"
    workload_class = "ocr-orientation"
    model_file = "ch_ppocr_mobile_v2.0_cls_infer.onnx"
    width = 192
    threshold = 0.98

    def _flip(self, i: int) -> bool:
        return i % 2 == 1

    def predict(self, indices: Sequence[int]) -> list[Any]:
        return [int(k) * 180 for k in self._run(indices).argmax(-1)]

    def check(self, outputs: Mapping[int, Any]) -> Accuracy:
        ref = reference()["ocr-cls"]
        seen = [i for i in outputs if 0 <= i < len(ref)]
        agree = sum(outputs[i] == ref[i] for i in seen)
        truth = sum(outputs[i] == (180 if self._flip(i) else 0) for i in seen)
        n = len(seen)
        return Accuracy("agreement with reference labels", agree / n if n else 0.0, self.threshold, n,
                        {"top1_vs_ground_truth": truth / n if n else 0.0})
