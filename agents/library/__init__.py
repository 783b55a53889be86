"""The kernel library: a memory of verified kernels, keyed by the reference's op graph.

`signature` normalises a reference's traced ATen ops (names, nesting and surface
spellings do not matter); `tracing` runs the tracer in a child; `store` keeps entries in a
tamper-evident file under KWRIGHT_HOME; `retrieve` ranks entries for a new problem within
a token budget; `hooks` are the two calls the loop makes (record, retrieve) and the prompt
section. docs/library.md has the design.
"""
