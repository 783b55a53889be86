"""The GPU worker Dockerfile cannot be built here (no GPU, no registry): keep it valid."""

from __future__ import annotations

import re

from tests.conftest import ROOT

INSTRUCTIONS = {
    "FROM",
    "ARG",
    "ENV",
    "RUN",
    "COPY",
    "ADD",
    "USER",
    "WORKDIR",
    "CMD",
    "ENTRYPOINT",
    "LABEL",
    "EXPOSE",
    "VOLUME",
    "SHELL",
    "HEALTHCHECK",
    "STOPSIGNAL",
    "ONBUILD",
}


def instructions() -> list[tuple[str, str]]:
    text = (ROOT / "Dockerfile").read_text()
    logical = re.sub(r"\\\n", " ", text)  # join continuation lines
    found = []
    for raw in logical.splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            found.append((word, rest.strip()))
    return found


def test_dockerfile_parses_and_builds_the_gpu_toolchain():
    steps = instructions()
    assert all(word in INSTRUCTIONS for word, _ in steps), [
        w for w, _ in steps if w not in INSTRUCTIONS
    ]
    froms = [rest for word, rest in steps if word == "FROM"]
    assert len(froms) == 1
    args = dict(rest.split("=", 1) for word, rest in steps if word == "ARG" and "=" in rest)
    assert args["CUDA_IMAGE"].startswith("nvidia/cuda:") and "devel" in args["CUDA_IMAGE"]
    runs = " ".join(rest for word, rest in steps if word == "RUN")
    for needed in (
        "torch==",
        "triton",
        "cupy-cuda",
        "NSIGHT_COMPUTE",
        "ncu --version",
        "/opt/kernelwright",
    ):
        assert needed in runs, needed
    assert "nsight-compute" in args["NSIGHT_COMPUTE"]


def test_dockerfile_copies_what_exists_and_runs_unprivileged():
    steps = instructions()
    for word, rest in steps:
        if word == "COPY":
            *sources, _dest = rest.split()
            for source in sources:
                assert (ROOT / source).exists(), f"COPY {source}: not in the repository"
    users = [rest for word, rest in steps if word == "USER"]
    assert users and users[-1].split(":")[0] != "0"
    assert (ROOT / "sandbox" / "container_entry.py").is_file()  # the per-step command
