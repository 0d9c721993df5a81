#!/bin/sh
# Runs once, when the postgres container initialises its data directory: the apps' role is
# not a superuser, so the leak stops at max_connections minus the reserved superuser slots
# and postgres_exporter (a superuser) can still count who holds what.
set -eu
psql -v ON_ERROR_STOP=1 -v pw="$LEAKLAB_DB_PASSWORD" --username "$POSTGRES_USER" --dbname postgres <<'SQL'
CREATE ROLE leaklab LOGIN PASSWORD :'pw';
CREATE DATABASE leaklab OWNER leaklab;
SQL
