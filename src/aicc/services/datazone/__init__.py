"""The secure data zone's use cases: datasets, grants, held outputs, release.

Split by who acts: custodians register datasets and decide on grants and
outputs; projects request grants, run jobs and download what was released.
"""
