#!/usr/bin/env bash
# Installs the Python peers the wire tests talk to into .venv-peers/ (git-ignored):
#   - real Keystone and Glance (served on 127.0.0.1 by crates/openstack/tests),
#   - python-openstackclient + openstacksdk (the `openstack` CLI used by the localcloud wire tests
#     and as the baseline of the image-transfer benchmark).
# Idempotent: a marker file holds the hash of the requirement list; when it matches, nothing runs.
# Environment: VITRINA_PEERS_VENV overrides the venv path; PYTHON picks the interpreter.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${VITRINA_PEERS_VENV:-$(pwd)/.venv-peers}
python=${PYTHON:-python3}

# Pinned versions that were verified together (Python 3.11 on Debian).
requirements='keystone==30.0.0
glance==33.0.0
python-openstackclient==10.5.0
openstacksdk==4.22.0
'

hash=$(printf '%s' "$requirements" | sha256sum | cut -d' ' -f1)
marker="$venv/.vitrina-peers-$hash"
if [ -f "$marker" ] && [ -x "$venv/bin/python" ]; then
  echo "peers: $venv is up to date" >&2
  exit 0
fi

echo "peers: installing into $venv (takes a few minutes)" >&2
rm -f "$venv"/.vitrina-peers-*
[ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
printf '%s' "$requirements" >"$venv/requirements-peers.txt"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip setuptools wheel
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$venv/requirements-peers.txt"
# Smoke check: every peer imports and the CLI starts.
PYTHONWARNINGS=ignore "$venv/bin/python" -c 'import keystone.server.wsgi, glance.common.wsgi_app, openstack' >/dev/null
"$venv/bin/openstack" --version >/dev/null
touch "$marker"
echo "peers: ready" >&2
