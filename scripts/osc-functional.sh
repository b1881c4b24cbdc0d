#!/usr/bin/env bash
# Runs python-openstackclient's own functional tests (openstackclient/tests/functional from its
# source distribution on PyPI) against `vitrina localcloud serve --fixtures devstack`, and prints
# the passed/failed/skipped counts per module (compute, network, volume, image, identity, common).
#
# Usage: scripts/osc-functional.sh [--min-pass N] [pytest argument…]
#   --min-pass N   exit 1 when fewer than N tests of the six modules pass (CI gate)
#   pytest arguments replace the default selection (the six modules), e.g.
#   `openstackclient/tests/functional/network -k port`.
# Environment:
#   VITRINA_OSC_VENV   venv for the client and the test runner (default .venv-osc-functional)
#   VITRINA_BIN        the vitrina binary (default: cargo build, target/debug/vitrina)
#   OSC_CONCURRENCY    parallel test workers (default 6: most of a test's time is waiting)
#   OSC_TEST_TIMEOUT   seconds one test may take before it counts as failed (default 240)
#   OSC_KEEP           keep the work folder (localcloud data and log, junit XML) for debugging
# The tests run the `openstack` command for every step; scripts/osc-forkserver.py imports the
# client once and forks it per command (see there), which makes the run several times faster.
# The work folder holds the localcloud data and `results.csv` (test id, status) of the run,
# copied to target/osc-functional-results.csv (and pytest's output to
# target/osc-functional-pytest.log).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
min_pass=0
if [ "${1:-}" = "--min-pass" ]; then
  min_pass=$2
  shift 2
fi
filters=("$@")

# Pinned versions verified together (Python 3.11 on Debian).
osc_version=10.5.0
requirements="python-openstackclient==$osc_version
openstacksdk==4.22.0
tempest==47.0.0
stestr==4.2.1
testtools==2.9.1
fixtures==4.3.2
ddt==1.7.2
python-subunit==1.4.6
pytest==8.3.4
pytest-xdist==3.6.1
pytest-timeout==2.3.1
"
venv=${VITRINA_OSC_VENV:-$root/.venv-osc-functional}
python=${PYTHON:-python3}
hash=$(printf '%s' "$requirements" | sha256sum | cut -d' ' -f1)
marker="$venv/.vitrina-osc-$hash"
if ! [ -f "$marker" ] || ! [ -x "$venv/bin/python" ]; then
  echo "osc-functional: installing the client and test runner into $venv" >&2
  rm -f "$venv"/.vitrina-osc-*
  [ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
  printf '%s' "$requirements" >"$venv/requirements-osc.txt"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$venv/requirements-osc.txt"
  touch "$marker"
fi

# The tests come from the client's own source distribution.
src="$venv/src/python_openstackclient-$osc_version"
if ! [ -d "$src/openstackclient/tests/functional" ]; then
  mkdir -p "$venv/src"
  "$venv/bin/python" -m pip download --quiet --disable-pip-version-check --no-deps \
    --no-binary :all: --dest "$venv/src" "python-openstackclient==$osc_version"
  tar -xzf "$venv/src/python_openstackclient-$osc_version.tar.gz" -C "$venv/src"
fi

bin=${VITRINA_BIN:-}
if [ -z "$bin" ]; then
  cargo build --quiet -p vitrina-cli
  bin="$root/target/debug/vitrina"
fi

work=$(mktemp -d /tmp/vitrina-osc-functional.XXXXXX)
server_pid=
forkserver_pid=
cleanup() {
  if [ -n "$forkserver_pid" ]; then
    kill "$forkserver_pid" 2>/dev/null || true
    wait "$forkserver_pid" 2>/dev/null || true
  fi
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    # --stop-servers-on-exit ends the servers the tests booted and their namespaces.
  fi
  if [ -z "${OSC_KEEP:-}" ]; then
    rm -rf "$work"
  else
    echo "osc-functional: kept $work" >&2
  fi
}
trap cleanup EXIT

port=$("$venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$bin" localcloud serve --fixtures devstack --stop-servers-on-exit --listen "127.0.0.1:$port" --data "$work/data" \
  >"$work/localcloud.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 300); do
  if curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1; then break; fi
  if ! kill -0 "$server_pid" 2>/dev/null; then
    cat "$work/localcloud.log" >&2
    echo "osc-functional: localcloud did not start" >&2
    exit 1
  fi
  sleep 0.2
done

# The tests strip OS_* from the client's environment and name clouds (devstack, devstack-admin,
# devstack-alt, devstack-system-admin): the clouds.yaml the fixtures wrote is found through
# XDG_CONFIG_HOME, as devstack's /etc/openstack/clouds.yaml is.
mkdir -p "$work/config/openstack"
cp "$work/data/clouds.yaml" "$work/config/openstack/clouds.yaml"
export XDG_CONFIG_HOME="$work/config"
export PATH="$venv/bin:$PATH"
unset OS_CLOUD OS_CLIENT_CONFIG_FILE OS_AUTH_URL OS_PASSWORD

# The `openstack` the tests run: the fork server's client, first on PATH.
"$venv/bin/python" "$root/scripts/osc-forkserver.py" serve "$work/osc.sock" >"$work/forkserver.log" 2>&1 &
forkserver_pid=$!
mkdir -p "$work/bin"
printf '#!/bin/sh\nexec "%s" -S -E -s "%s" client "%s" "%s" "$@"\n' "$venv/bin/python" \
  "$root/scripts/osc-forkserver.py" "$work/osc.sock" "$venv/bin/openstack" >"$work/bin/openstack"
chmod +x "$work/bin/openstack"
for _ in $(seq 1 600); do
  if grep -q ready "$work/forkserver.log" 2>/dev/null; then break; fi
  if ! kill -0 "$forkserver_pid" 2>/dev/null; then
    cat "$work/forkserver.log" >&2
    echo "osc-functional: the openstack fork server did not start" >&2
    exit 1
  fi
  sleep 0.2
done
export PATH="$work/bin:$PATH"

cd "$src"
if [ "${#filters[@]}" -eq 0 ]; then
  filters=()
  for m in compute network volume image identity common; do
    filters+=("openstackclient/tests/functional/$m")
  done
fi
start=$(date +%s)
# Tests that share a fixed resource name run on one worker (scripts/osc_xdist_groups.py).
PYTHONPATH="$root/scripts${PYTHONPATH:+:$PYTHONPATH}" \
  "$venv/bin/python" -m pytest -p no:cacheprovider -p osc_xdist_groups --dist loadgroup -q \
  -n "${OSC_CONCURRENCY:-6}" \
  --timeout "${OSC_TEST_TIMEOUT:-240}" --junitxml "$work/results.xml" -o junit_family=xunit2 \
  "${filters[@]}" >"$work/pytest.log" 2>&1 || true
elapsed=$(($(date +%s) - start))
# test id, status (success, fail, skip) — one line per test, read from the junit XML.
"$venv/bin/python" - "$work/results.xml" >"$work/results.csv" <<'PY'
import sys
import xml.etree.ElementTree as ET

for case in ET.parse(sys.argv[1]).getroot().iter('testcase'):
    # Without parameters and the `@group` xdist adds to grouped tests.
    test = f"{case.get('classname')}.{case.get('name')}".split('[')[0].split('@')[0]
    if case.find('skipped') is not None:
        status = 'skip'
    elif case.find('failure') is not None or case.find('error') is not None:
        status = 'fail'
    else:
        status = 'success'
    print(f'{test},{status}')
PY
cp "$work/results.csv" "$root/target/osc-functional-results.csv" 2>/dev/null || true
cp "$work/pytest.log" "$root/target/osc-functional-pytest.log" 2>/dev/null || true

echo "module      passed  failed  skipped"
total_pass=0
for m in compute network volume image identity common; do
  p=$(grep -c "functional\.$m\..*,success$" "$work/results.csv" || true)
  f=$(grep -c "functional\.$m\..*,fail$" "$work/results.csv" || true)
  s=$(grep -c "functional\.$m\..*,skip$" "$work/results.csv" || true)
  printf '%-10s %7d %7d %8d\n' "$m" "$p" "$f" "$s"
  total_pass=$((total_pass + p))
done
all=$(grep -cE "functional\.(compute|network|volume|image|identity|common)\." "$work/results.csv" || true)
echo "total: $total_pass of $all passed in ${elapsed}s (results: target/osc-functional-results.csv)"
if [ "$total_pass" -lt "$min_pass" ]; then
  echo "osc-functional: $total_pass passed, fewer than the required $min_pass" >&2
  exit 1
fi
