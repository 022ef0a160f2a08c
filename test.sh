#!/usr/bin/env bash
# Runs every Tollgate test. Installs what the tests need where it is missing (Debian packages, as root or
# with sudo), builds, runs the whole suite once and prints one line "N passed, N failed, N skipped".
# The tests start their own throw-away servers on free loopback ports and stop them; nothing is left running.
set -euo pipefail
cd "$(dirname "$0")"

# Debian packages the suites need: real servers and tools, never mocks.
PACKAGES=(redis-server chromium postgresql mariadb-server prometheus)

missing=()
for package in "${PACKAGES[@]}"; do
  dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done
if ((${#missing[@]})); then
  echo "Installing ${missing[*]} ..."
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  # The servers' packages would start system services on the default ports; the tests start their own, so
  # keep apt from starting any (policy-rc.d answering 101 = "not allowed"), and leave nothing running.
  policy=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    policy=/usr/sbin/policy-rc.d
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
    $SUDO chmod +x "$policy"
  fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  [ -z "$policy" ] || $SUDO rm -f "$policy"
fi

command -v dotnet >/dev/null || { echo "The .NET 10 SDK is needed: https://dotnet.microsoft.com/download" >&2; exit 1; }

results="$(pwd)/TestResults"
rm -rf "$results"
status=0
# Everything once on the embedded default (SQLite)...
dotnet test Tollgate.slnx --logger "trx;LogFileName=sqlite.trx" --results-directory "$results" "$@" || status=$?
# ...then the suites that touch a database again on PostgreSQL and on MariaDB: same tests, real servers
# (TOLLGATE_TEST_DATABASE picks the provider of every test app that does not name one).
server_suites="FullyQualifiedName~Tollgate.Tests.TenantApi|FullyQualifiedName~Tollgate.Tests.Metering|FullyQualifiedName~Tollgate.Tests.Admin|FullyQualifiedName~Tollgate.Tests.Usage.DurabilityTests|FullyQualifiedName~Tollgate.Tests.Usage.SynchronousDurabilityTests|FullyQualifiedName~Tollgate.Tests.Usage.UsageSpoolTests|FullyQualifiedName~Tollgate.Tests.Usage.RetentionTests|FullyQualifiedName~Tollgate.Tests.Keys.KeyCacheTests|FullyQualifiedName~Tollgate.Tests.Redis|FullyQualifiedName~Tollgate.Tests.Operations|FullyQualifiedName~Tollgate.Tests.Gateway|FullyQualifiedName~Tollgate.Tests.Usage.RollupTierTests|FullyQualifiedName~Tollgate.Tests.Usage.RawLogPolicyTests|FullyQualifiedName~Tollgate.Tests.Usage.HistoryRetentionTests"
for provider in Postgres MySql; do
  TOLLGATE_TEST_DATABASE=$provider dotnet test tests/Tollgate.Tests --no-build --filter "$server_suites" \
    --logger "trx;LogFileName=$provider.trx" --results-directory "$results" || status=$?
done

# One line from the TRX results (dotnet test's own summary is per project and worded its own way).
passed=0; failed=0; total=0; executed=0
for trx in "$results"/*.trx; do
  [ -e "$trx" ] || continue
  counters=$(grep -o '<Counters [^>]*>' "$trx")
  get() { echo "$counters" | sed -n "s/.* $1=\"\([0-9]*\)\".*/\1/p"; }
  passed=$((passed + $(get passed)))
  failed=$((failed + $(get failed) + $(get error) + $(get timeout) + $(get aborted)))
  total=$((total + $(get total)))
  executed=$((executed + $(get executed)))
done
skipped=$((total - executed))
echo
echo "$passed passed, $failed failed, $skipped skipped"

if ((status != 0)); then exit "$status"; fi
if ((passed == 0)); then echo "No test ran." >&2; exit 1; fi
if ((failed > 0)); then exit 1; fi
if ((skipped > 0)); then echo "$skipped tests were skipped: every test must run." >&2; exit 1; fi
