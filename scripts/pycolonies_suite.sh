#!/usr/bin/env bash
# Run pycolonies' own test suite (a checkout of github.com/colonyos/pycolonies) the way its CI
# does: the CI's environment, its test/setup_test_env.py, then pytest over test/, against
# `python colonies.py dev` on port 50080 (held under flock /tmp/colonies-50080.lock) and a moto
# S3 server on port 9000 standing in for the CI's MinIO.
#
#   scripts/pycolonies_suite.sh PYCOLONIES_CHECKOUT [pytest args…]
#   e.g. scripts/pycolonies_suite.sh /tmp/pycolonies test/channel_test.py
#
# SUITE_PYTHON: the interpreter with pycolonies' requirements.txt (and pycolonies==1.0.25 for its
# cfs module) installed; default python3. SERVER_PYTHON: ours (default python3; needs the test
# extra for moto). test_get_files and test_sync also need the native libcfslib.so (CFSLIB).
set -u
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
suite="$(cd "${1:?usage: $0 PYCOLONIES_CHECKOUT [pytest args...]}" && pwd)"; shift
suite_py="${SUITE_PYTHON:-python3}"
server_py="${SERVER_PYTHON:-python3}"
exec 9>/tmp/colonies-50080.lock
flock 9
data="$(mktemp -d /tmp/pycolonies-suite.XXXXXX)"
export LANG=en_US.UTF-8 LANGUAGE=en_US.UTF-8 LC_ALL=C.UTF-8 LC_CTYPE=UTF-8 TZ=Europe/Stockholm
export COLONIES_TLS=false COLONIES_SERVER_HOST=localhost COLONIES_SERVER_PORT=50080
export COLONIES_MONITOR_PORT=21120 COLONIES_MONITOR_INTERVAL=1
export COLONIES_SERVER_ID=039231c7644e04b6895471dd5335cf332681c54e27f81fac54f9067b3f2c0103
export COLONIES_SERVER_PRVKEY=fcc79953d8a751bf41db661592dc34d30004b1a651ffa0725b03ac227641499d
export COLONIES_COLONY_NAME=test
export COLONIES_COLONY_ID=4787a5071856a4acf702b2ffcea422e3237a679c681314113d86139461290cf4
export COLONIES_COLONY_PRVKEY=ba949fa134981372d6da62b6a56f336ab4d843b22c02a4257dcf7d0d73097514
export COLONIES_EXECUTOR_ID=3fc05cf3df4b494e95d6a3d297a34f19938f7daa7422ab0d4f794454133341ac
export COLONIES_PRVKEY=ddf7f7791208083b6a9ed975a72684f6406a269cfa36f1b1c32045c0a71fff05
export COLONIES_EXECUTOR_NAME=test-executor COLONIES_EXECUTOR_TYPE=cli
export COLONIES_CRON_CHECKER_PERIOD=1000 COLONIES_GENERATOR_CHECKER_PERIOD=1000 COLONIES_EXCLUSIVE_ASSIGN=true
export AWS_S3_ENDPOINT=localhost:9000 AWS_S3_ACCESSKEY=minioadmin AWS_S3_SECRETKEY=minioadmin AWS_S3_TLS=false
export AWS_S3_SKIPVERIFY=false AWS_S3_BUCKET=test
(cd "$repo" && exec "$server_py" colonies.py dev --no-executor --port 50080 --data-dir "$data/server") \
    >"$data/server.log" 2>&1 &
server=$!
"$server_py" -m moto.server -H 127.0.0.1 -p 9000 >"$data/moto.log" 2>&1 &
moto=$!
cleanup() { kill -INT "$server" 2>/dev/null; kill "$moto" 2>/dev/null; wait "$server" "$moto" 2>/dev/null; }
trap cleanup EXIT
for _ in $(seq 1 150); do
    curl -sf http://127.0.0.1:50080/health >/dev/null && curl -s -o /dev/null http://127.0.0.1:9000/ && break
    sleep 0.2
done
curl -s -X PUT http://127.0.0.1:9000/test >/dev/null
cd "$suite"
"$suite_py" ./test/setup_test_env.py
"$suite_py" -m pytest "$@"
rc=$?
echo "server log: $data/server.log" >&2
exit $rc
