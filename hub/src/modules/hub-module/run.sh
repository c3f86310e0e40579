#!/bin/sh
# The powernode-hub module's service (the agent supervises it, chrooted in the node's composed root):
# the hub on this node's PostgreSQL (the postgresql module), its data dir under /var (on /persist on a
# persistent node). Everything else comes from the environment the template gives the module
# (POWERNODE_ADMIN_TOKEN, POWERNODE_HOSTNAMES, POWERNODE_NODE_URL, ...; docs/federation.md).
set -eu
export POWERNODE_DATA="${POWERNODE_DATA:-/var/lib/powernode-hub}"
export DATABASE_URL="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/powernode}"
export POWERNODE_MIGRATIONS_DIR=/usr/lib/powernode-hub/drizzle
mkdir -p "$POWERNODE_DATA"
chmod 0700 "$POWERNODE_DATA"
# The node's own PostgreSQL starts beside the hub (and makes its cluster on the first boot): wait for
# it rather than fail and be restarted with backoff.
READY=/usr/lib/postgresql/15/bin/pg_isready
case "$DATABASE_URL" in
postgres://*@127.0.0.1:5432/*)
  if [ -x "$READY" ]; then
    i=0
    until "$READY" -q -h 127.0.0.1 -p 5432 -U postgres; do
      i=$((i + 1))
      if [ "$i" -ge 600 ]; then
        echo "powernode-hub: PostgreSQL on 127.0.0.1:5432 not ready after 300 s"
        exit 1
      fi
      sleep 0.5
    done
  fi
  ;;
esac
exec /usr/lib/powernode-hub/powernode-hub
