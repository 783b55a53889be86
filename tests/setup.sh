#!/usr/bin/env bash
# Install everything the test suite needs on a fresh Debian machine with Python 3.11:
# system packages (Redis, bubblewrap, podman + runc for the Docker-API tests, libseccomp for the
# steps' confinement, chromium for the
# leaderboard's browser test) and the project with its test extras. Servers are started by the
# tests themselves, on loopback.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(redis-server bubblewrap podman runc uidmap chromium libseccomp2)
if command -v apt-get >/dev/null 2>&1; then
  missing=()
  for pkg in "${APT_PACKAGES[@]}"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    echo "setup: apt-get install ${missing[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
else
  echo "setup: no apt-get; Redis/bubblewrap/podman tests will be skipped where the tools are missing" >&2
fi

# The test run uses the torch release CI is tested on (2.13.0; its CPU wheel lies in the
# development machines' wheel folder). A torch already installed is kept.
if ! python3 -c "import torch" >/dev/null 2>&1; then
  echo "setup: pip install torch==2.13.0 (the tested release)"
  python3 -m pip install -q --disable-pip-version-check "torch==2.13.0"
fi
python3 -m pip install -q --disable-pip-version-check -e '.[test]'
