"""Accelerator testbed: device discovery per vendor, MLPerf-style benchmarks run as AICC jobs, results.

Pure pieces (LoadGen log parsing, energy arithmetic, vendor JSON parsing) import nothing heavy; the
runner (``python -m aicc.testbed.run``) imports LoadGen, NumPy and ONNX Runtime only when it runs.
"""
