#!/bin/sh
# Run once by the postgres image when it creates the primary's data directory
# (docker-entrypoint-initdb.d): let the titanium role (a superuser, so it may
# replicate) stream the write-ahead log to compose's replica, with its password.
set -eu
echo "host replication titanium all scram-sha-256" >> "$PGDATA/pg_hba.conf"
