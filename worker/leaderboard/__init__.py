"""The leaderboard: rank agents, models and GPUs over a named problem set, KernelBench-style.

`records` names the metrics and the choices (formats, baselines), `collect` reads run
directories, `kernelbench_io` reads and writes KernelBench's files, `metrics` computes and
ranks, `board` assembles a board, `build` makes one from runs, `table`, `charts` and
`render` turn it into md, csv, json and html.

Nothing is imported here: `kwright --help` reads the choices in `records` without loading
numpy and jinja2, which the board's modules need.
"""
