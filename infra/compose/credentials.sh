#!/usr/bin/env bash
# The compose deployment's passwords (docs/adr/0044), made on this host and never committed:
#   infra/compose/credentials.sh [DIR]     default infra/compose/credentials (BINHCHON_CREDENTIALS_DIR)
#   DIR/kafka/<principal>.password         the broker's SCRAM users: admin, auditor, each service
#                                          (+ <principal>.properties, the same sign-in for Kafka's own tools)
#   DIR/kafka/controller.password          the brokers' own PLAIN sign-in to the controller listener
#   DIR/kafka/ca.crt, broker.pem, ca.key   the broker's TLS (docs/adr/0055): the CA every client trusts, the brokers'
#                                          key and certificate (naming kafka, kafka-2, kafka-3, localhost, 127.0.0.1
#                                          and BINHCHON_KAFKA_TLS_NAMES'), the CA's key (0600, to issue it again)
#   DIR/kafka/container/*.properties       the tools' sign-in as seen inside the broker's container
#   DIR/store/<principal>.password         the store's users: auditor, each service, and admin (mongo:8.0's root)
#   DIR/replica-set/keyfile                the MongoDB replica set's shared key (ha-mongo.yml): its members sign in to
#                                          one another with it; 1008 base64 characters (MongoDB takes 6 to 1024)
# A password that exists is kept (run it again at will); to rotate one, see infra/compose/README.md. The files
# are 0644 inside 0755 directories because the containers' users (uid 10001, 1000, 999) read them through bind
# mounts; DIR itself is 0700, so no other user of this host can reach them.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
dir=${1:-${BINHCHON_CREDENTIALS_DIR:-$here/credentials}}
python=${BINHCHON_PYTHON:-$repo/.venv/bin/python}
[[ -x $python ]] || { echo "[credentials] $python is missing: run make bootstrap first" >&2; exit 1; }
mkdir -p "$dir" && chmod 0700 "$dir"
"$python" -m binhchon_kit.principals credentials "$dir/kafka" --mounted-at /run/binhchon/kafka-credentials
"$python" - "$dir" <<'PY'
import base64
import os
import sys
from pathlib import Path
from binhchon_kit.principals import write_password_files
from binhchon_kit.private_files import write_once
from binhchon_kit.store_principals import STORE_PRINCIPALS
root = Path(sys.argv[1])
write_password_files(root / "kafka", ["controller"])
write_password_files(root / "store", [*STORE_PRINCIPALS, "admin"])
# The replica set's keyfile (internal authentication, MongoDB's keyFile): kept when it exists, like the passwords;
# rotating it is two rolling restarts (infra/compose/README.md). os.urandom's 756 bytes are 1008 base64 characters.
write_once(root / "replica-set" / "keyfile", base64.b64encode(os.urandom(756)))  # whole or not at all
PY
chmod 0755 "$dir/kafka" "$dir/kafka/container" "$dir/store" "$dir/replica-set"
# the keyfile too: its readers are the members' root, which copies it to 0400 for mongod (ha-mongo.yml)
chmod 0644 "$dir"/kafka/*.* "$dir"/kafka/container/* "$dir"/store/* "$dir/replica-set/keyfile"
chmod 0600 "$dir/kafka/ca.key"  # no container reads it: only this script, to issue the brokers a new certificate
passwords=("$dir"/kafka/*.password "$dir"/store/*.password)
echo "[credentials] $dir: kafka/, store/ (${#passwords[@]} passwords) and replica-set/keyfile" >&2
