"""The untrusted side of an evaluation: the minimal runner that hosts a candidate.

It runs inside a sandboxed child (`python -m kernelbench.runner.child WORKDIR`) and holds only
the candidate module, the trial inputs and itself: no problem module or source, no seeds,
no reference outputs. See `kernelbench.runner.candidate_step` for the step protocol and
`kernelbench.runner.guard` for the runtime compute guard.
"""
