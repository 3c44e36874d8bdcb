"""The secure data zone's rules: datasets, grants, output checks and release, with no I/O.

Code goes to the data; data does not leave. These functions decide what a grant
allows, what a job's output may contain and when a file may be released; the
services read and write the files and rows around them.
"""
