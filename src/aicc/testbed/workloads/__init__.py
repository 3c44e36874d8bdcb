"""Workloads the testbed can run, by name: the built-in ones and any a center adds as a plugin.

A center adds its own without touching AICC: a package declares an entry point in the group
``aicc.testbed.workloads`` whose value is a zero-argument factory returning a
:class:`~aicc.testbed.workloads.base.Workload`::

    [project.entry-points."aicc.testbed.workloads"]
    my-segmenter = "mycenter.bench:MySegmenter"

Built-ins are looked up first so a plugin cannot silently replace the reference workloads.
"""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points

from aicc.testbed.workloads.base import Workload

ENTRY_POINT_GROUP = "aicc.testbed.workloads"

BUILTIN: dict[str, str] = {
    "ocr-rec": "aicc.testbed.workloads.ocr:TextRecognition",
    "ocr-cls": "aicc.testbed.workloads.ocr:TextOrientation",
    "dicom-prep": "aicc.testbed.workloads.dicom:DicomPreprocessing",
    "numpy-mlp": "aicc.testbed.workloads.mlp:NumpyMLP",
}
"""name → ``module:factory``; imported only when that workload is asked for."""


class UnknownWorkload(LookupError):
    pass


def _load(ref: str) -> Workload:
    module, _, attr = ref.partition(":")
    factory = getattr(importlib.import_module(module), attr)
    workload: Workload = factory()
    return workload


def available() -> dict[str, str]:
    """Every workload name → where it comes from (``builtin`` or the plugin's ``module:attr``)."""
    from aicc.testbed.training import TRAINING_WORKLOADS

    out = dict.fromkeys(BUILTIN, "builtin") | dict.fromkeys(TRAINING_WORKLOADS, "builtin (training)")
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        out.setdefault(ep.name, ep.value)
    return out


def get(name: str) -> Workload:
    """An inference workload (training workloads run through ``aicc.testbed.training``)."""
    if name in BUILTIN:
        return _load(BUILTIN[name])
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name == name:
            workload: Workload = ep.load()()
            return workload
    raise UnknownWorkload(f"unknown workload {name!r} (known: {', '.join(sorted(available()))})")
