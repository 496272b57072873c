#!/bin/sh
# One-shot jobs of docker-compose.yml, run in the temporalio/admin-tools image (busybox sh, no bash):
#
#   setup.sh schema     create or upgrade the `temporal` and `temporal_visibility` databases
#   setup.sh namespace  create the hotline's namespace and register the contract's search attributes
#
# Both are idempotent: compose runs them on every `docker compose up`, against a fresh or an
# existing PostgreSQL volume alike. Passwords come from the environment only (temporal-sql-tool
# reads SQL_PASSWORD), so they never appear on a command line or in `ps`.
set -eu

# Runs "$@" up to $1 times, two seconds apart, until it succeeds.
retry() {
    attempts=$1
    shift
    n=1
    until "$@"; do
        if [ "$n" -ge "$attempts" ]; then
            echo "setup: giving up after $n attempts: $*" >&2
            return 1
        fi
        n=$((n + 1))
        sleep 2
    done
}

# ---------------------------------------------------------------------------------------------
# schema: temporal-sql-tool with the postgres12 plugin. SQL_PLUGIN, SQL_HOST, SQL_PORT, SQL_USER
# and SQL_PASSWORD come from the job's environment.
# ---------------------------------------------------------------------------------------------
SCHEMA_ROOT=/etc/temporal/schema/postgresql/v12

schema_database() {
    db=$1
    dir=$2
    # Creating a database that exists is a no-op for the postgres12 plugin (duplicate_database is
    # ignored); retried because PostgreSQL may still be finishing its first start.
    retry 30 temporal-sql-tool --db "$db" create-database
    # `setup-schema -v 0.0` on a database that already holds the schema would reset its recorded
    # version to 0.0, and `update-schema` would then replay every migration and fail half-way.
    # So upgrade first; only a database without the schema_version table gets the initial setup.
    if out=$(temporal-sql-tool --db "$db" update-schema -d "$dir" 2>&1); then
        printf '%s\n' "$out"
        echo "schema: $db is at the image's latest version"
        return 0
    fi
    case $out in
        *schema_version*"does not exist"*)
            echo "schema: $db is empty, setting it up"
            temporal-sql-tool --db "$db" setup-schema -v 0.0
            temporal-sql-tool --db "$db" update-schema -d "$dir"
            ;;
        *)
            printf '%s\n' "$out" >&2
            echo "schema: upgrading $db failed; not touching it further" >&2
            return 1
            ;;
    esac
}

schema() {
    schema_database "${TEMPORAL_DBNAME:-temporal}" "$SCHEMA_ROOT/temporal/versioned"
    schema_database "${TEMPORAL_VISIBILITY_DBNAME:-temporal_visibility}" "$SCHEMA_ROOT/visibility/versioned"
}

# ---------------------------------------------------------------------------------------------
# namespace: the `temporal` CLI against the frontend at $TEMPORAL_ADDRESS.
# ---------------------------------------------------------------------------------------------
NAMESPACE=${HOTLINE_NAMESPACE:-default}
RETENTION=${HOTLINE_NAMESPACE_RETENTION:-30d}
TEMPORAL_ADDRESS=${TEMPORAL_ADDRESS:-temporal:7233}
export TEMPORAL_ADDRESS

# Runs "$@" until it succeeds or answers that the thing already exists. Other errors are retried:
# a namespace created a moment ago takes a few seconds to reach the frontend's namespace cache.
ensure() {
    what=$1
    shift
    n=1
    while :; do
        if out=$("$@" 2>&1); then
            echo "setup: $what: done"
            return 0
        fi
        case $(printf '%s' "$out" | tr '[:upper:]' '[:lower:]') in
            *"different type"*)
                # A search attribute of that name with another type: no retry will fix that.
                printf '%s\n' "$out" >&2
                return 1
                ;;
            *"already exist"* | *alreadyexist*)
                echo "setup: $what: already there"
                return 0
                ;;
        esac
        if [ "$n" -ge 30 ]; then
            printf '%s\n' "$out" >&2
            echo "setup: $what: failed after $n attempts" >&2
            return 1
        fi
        n=$((n + 1))
        sleep 2
    done
}

# One custom search attribute of the contract ("What operators see in the Web UI"), then a check
# that the namespace really has it with that type.
search_attribute() {
    ensure "search attribute $1 ($2)" \
        temporal operator search-attribute create --namespace "$NAMESPACE" --name "$1" --type "$2"
    if ! temporal operator search-attribute list --namespace "$NAMESPACE" |
        grep -Eq "^[[:space:]]*$1[[:space:]]+$2[[:space:]]*\$"; then
        echo "setup: search attribute $1 is not registered as $2 in $NAMESPACE" >&2
        return 1
    fi
}

namespace() {
    retry 60 temporal operator cluster health
    # An existing namespace keeps its settings (an operator may have changed the retention).
    ensure "namespace $NAMESPACE" \
        temporal operator namespace create --namespace "$NAMESPACE" --retention "$RETENTION"

    # The contract's table, name and type; never personal data in any of them.
    search_attribute OrderTier Keyword
    search_attribute OrderCategory Keyword
    search_attribute OrderPlatform Keyword
    search_attribute OrderPhase Keyword
    search_attribute OrderUnits KeywordList
    search_attribute OrderDistrict Keyword
    search_attribute ReceiptDue Datetime
    search_attribute CompletionDue Datetime
    search_attribute OrderFlags KeywordList
}

case ${1:-} in
    schema) schema ;;
    namespace) namespace ;;
    *)
        echo "usage: $0 schema|namespace" >&2
        exit 2
        ;;
esac
