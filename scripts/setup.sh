#!/usr/bin/env bash
# Sets up everything the collection, its tests and the demo need, inside the checkout:
#   .venv/         Python 3.11 with the pinned requirements.txt
#   .venv-sam/     the AWS SAM CLI of requirements-sam.txt (its own pins of boto3 and click), `sam` linked into .venv/bin
#   node_modules/  Serverless Framework 3.x, osls and serverless-compose from package-lock.json
#   .collections/  ansible_collections/multiregion/serverless -> this checkout, so FQCNs resolve here
# Idempotent: each step keeps a stamp with the hash of its inputs and is skipped when they did not change.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
python=${PYTHON:-python3.11}
stamp_dir=.venv/.stamps
# The installer of the requirements, pinned like them (part of the stamp: a new pin reinstalls).
uv_requirement=uv==0.13.9

say() { printf '[setup] %s\n' "$*"; }
digest() { cat "$@" | sha256sum | cut -d' ' -f1; }

command -v "$python" >/dev/null || { echo "setup: $python not found (Python 3.11 is required for ansible-core 2.19)" >&2; exit 1; }
command -v npm >/dev/null || { echo "setup: npm not found (Node.js 20+ is required for the Serverless Framework)" >&2; exit 1; }

if [ ! -x .venv/bin/python ]; then
  say "creating .venv with $($python --version)"
  "$python" -m venv .venv
fi
mkdir -p "$stamp_dir"

want=$( (cat requirements.txt; echo "$uv_requirement") | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp_dir/requirements" 2>/dev/null)" != "$want" ]; then
  say "installing Python requirements (first run takes about a minute)"
  # uv installs the same pins several times faster than pip (parallel downloads and unpacking); the
  # bytecode is compiled at install, as pip does, because every Ansible module run imports boto3 anew.
  .venv/bin/python -m pip install --quiet --disable-pip-version-check "$uv_requirement" 2>&1 \
    | grep -v "is ignored: it is neither a file nor a directory" || true
  [ -x .venv/bin/uv ] || { echo "setup: could not install $uv_requirement into .venv" >&2; exit 1; }
  .venv/bin/uv pip install --quiet --compile-bytecode --python .venv/bin/python -r requirements.txt
  .venv/bin/python -m pip check >/dev/null || { .venv/bin/python -m pip check >&2; exit 1; }
  echo "$want" > "$stamp_dir/requirements"
else
  say "Python requirements up to date"
fi

# The SAM CLI pins boto3, botocore and click differently from requirements.txt: its own environment, and only
# its `sam` on the PATH of .venv/bin (the packager's default binary).
want=$( (cat requirements-sam.txt; echo "$uv_requirement") | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp_dir/sam" 2>/dev/null)" != "$want" ] || [ ! -x .venv-sam/bin/sam ]; then
  say "installing the AWS SAM CLI into .venv-sam"
  [ -x .venv-sam/bin/python ] || "$python" -m venv .venv-sam
  .venv/bin/uv pip install --quiet --compile-bytecode --python .venv-sam/bin/python -r requirements-sam.txt
  echo "$want" > "$stamp_dir/sam"
else
  say "AWS SAM CLI up to date"
fi
ln -sfn ../../.venv-sam/bin/sam .venv/bin/sam

want=$(digest package.json package-lock.json)
if [ "$(cat "$stamp_dir/node" 2>/dev/null)" != "$want" ] || [ ! -d node_modules ]; then
  say "installing Serverless Framework, osls and serverless-compose from package-lock.json"
  npm ci --no-audit --no-fund --loglevel=error >/dev/null
  echo "$want" > "$stamp_dir/node"
else
  say "Node tools up to date"
fi

# ansible-core finds collections under <path>/ansible_collections/<namespace>/<name>; the checkout is the
# collection root, so point one such path at it.
mkdir -p .collections/ansible_collections/multiregion
ln -sfn ../../.. .collections/ansible_collections/multiregion/serverless

version_of() { node -p "require('./node_modules/$1/package.json').version"; }
say "ready: ansible-core $(.venv/bin/python -c "import ansible.release; print(ansible.release.__version__)"), serverless $(version_of serverless), osls $(version_of osls), compose $(version_of @serverless/compose), SAM CLI $(sed -n "s/^aws-sam-cli==//p" requirements-sam.txt)"
