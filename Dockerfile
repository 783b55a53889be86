# kernelwright GPU worker / sandbox image.
#
# One image serves both roles: `kwright worker` runs in it, and the `docker` sandbox
# backend starts one container of it per harness step (`python3 -m
# sandbox.container_entry ...`, no network, read-only root, unprivileged user).
#
#   docker build -t kernelwright-worker:latest .
#   docker run --rm --gpus all kernelwright-worker:latest kwright eval level1/2_ReLU @solution
#
# Needs a CUDA GPU host with the NVIDIA container toolkit. Not buildable on the CPU-only
# development machines (no registry access there); tests/test_dockerfile.py keeps it valid.

ARG CUDA_IMAGE=nvidia/cuda:13.0.1-cudnn-devel-ubuntu24.04
FROM ${CUDA_IMAGE}

ARG TORCH_VERSION=2.13.0
ARG TORCH_INDEX=https://download.pytorch.org/whl/cu130
ARG NSIGHT_COMPUTE=cuda-nsight-compute-13-0

ENV DEBIAN_FRONTEND=noninteractive \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:/usr/local/cuda/bin:/usr/local/bin:/usr/bin:/bin \
    CUDA_HOME=/usr/local/cuda

# Python, a compiler toolchain for load_inline, and Nsight Compute (ncu) from the CUDA
# apt repository that the base image already configures.
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        python3 python3-venv python3-dev build-essential ninja-build ca-certificates \
        "${NSIGHT_COMPUTE}" \
    && ln -sf "$(ls -d /opt/nvidia/nsight-compute/*/ | sort -V | tail -n 1)ncu" /usr/local/bin/ncu \
    && rm -rf /var/lib/apt/lists/*

RUN python3 -m venv "${VIRTUAL_ENV}" \
    && pip install --upgrade pip \
    && pip install "torch==${TORCH_VERSION}" --index-url "${TORCH_INDEX}" \
    && pip install triton "cupy-cuda13x" numpy ninja

# The package last, so that code changes do not rebuild the toolchain layers.
COPY pyproject.toml README.md /opt/kernelwright/
COPY kernelbench /opt/kernelwright/kernelbench
COPY sandbox /opt/kernelwright/sandbox
COPY profiler /opt/kernelwright/profiler
COPY agents /opt/kernelwright/agents
COPY worker /opt/kernelwright/worker
RUN pip install "/opt/kernelwright[cuda-tools]" \
    && python3 -c "import torch, triton, cupy, kernelbench.harness, sandbox.container_entry" \
    && ncu --version

# Steps run as this user (the docker backend passes --user 65534:65534 as well).
RUN mkdir -p /work && chmod 1777 /work
USER 65534:65534
WORKDIR /work
CMD ["kwright", "worker"]
