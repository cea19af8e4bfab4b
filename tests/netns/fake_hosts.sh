#!/bin/sh
# Runs a rank as if on host STRATA_RANK / RANKS_PER_HOST (default 2) by giving it that host
# identity: several "hosts" on loopback, without network namespaces or root.
# Usage (under strata-run): fake_hosts.sh command [args...]
STRATA_HOSTID="loopback-host-$((STRATA_RANK / ${RANKS_PER_HOST:-2}))"
export STRATA_HOSTID
exec "$@"
