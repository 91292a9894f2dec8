#!/usr/bin/env bash
# The release artifacts, built from this checkout with the tools of the project's setup (on PATH):
#
#   bash scripts/release.sh       the collection tarball, build/release/multiregion-serverless-<version>.tar.gz
#   bash scripts/release.sh ee    and the execution environment's build context, build/ee/context
#                                 (ansible-builder create; build it with podman or docker where there is one)
#
# galaxy.yml's build_ignore keeps everything that is not collection content out of the tarball
# (tests/release/test_release.py checks the file list). Prints the paths it wrote.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

out=build/release
rm -rf "$out"
mkdir -p "$out"
ansible-galaxy collection build --force --output-path "$out" . >/dev/null
tarball=$(ls "$out"/multiregion-serverless-*.tar.gz)
echo "$tarball"

if [ "${1:-}" = ee ]; then
  # execution-environment.yml takes the tarball from here, under a name without the version.
  mkdir -p build/ee
  cp "$tarball" build/ee/multiregion-serverless.tar.gz
  ansible-builder create -f execution-environment.yml --context build/ee/context --output-filename Containerfile >/dev/null
  echo build/ee/context
fi
