#!/bin/sh
# The powernode-hub module's service (the agent supervises it, chrooted in the node's composed root):
# the hub on this node's PostgreSQL (the postgresql module: TCP to 127.0.0.1 with the password that
# module made for the postgres role), its data dir under /var (on /persist on a persistent node).
# Everything else comes from the environment the template gives the module (POWERNODE_ADMIN_TOKEN,
# POWERNODE_HOSTNAMES, POWERNODE_NODE_URL, ...; docs/federation.md). DATABASE_URL given: used as is.
set -eu
export POWERNODE_DATA="${POWERNODE_DATA:-/var/lib/powernode-hub}"
export POWERNODE_MIGRATIONS_DIR=/usr/lib/powernode-hub/drizzle
mkdir -p "$POWERNODE_DATA"
chmod 0700 "$POWERNODE_DATA"
if [ -z "${DATABASE_URL:-}" ]; then
  # The node's own PostgreSQL starts beside the hub and makes its cluster on the first boot: wait
  # for its password file and for it to accept connections rather than fail and be restarted.
  READY=/usr/lib/postgresql/15/bin/pg_isready
  PWFILE=/var/lib/postgresql/postgres.password
  i=0
  until [ -s "$PWFILE" ] && [ -x "$READY" ] && "$READY" -q -h 127.0.0.1 -p 5432 -U postgres; do
    i=$((i + 1))
    if [ "$i" -ge 600 ]; then
      echo "powernode-hub: PostgreSQL on 127.0.0.1:5432 not ready after 300 s (is the postgresql module assigned?)"
      exit 1
    fi
    sleep 0.5
  done
  DATABASE_URL="postgres://postgres:$(cat "$PWFILE")@127.0.0.1:5432/${POWERNODE_PG_DATABASE:-powernode}"
  export DATABASE_URL
fi
exec /usr/lib/powernode-hub/powernode-hub
