#!/usr/bin/env bash
# Runs every Tollgate test. Installs what the tests need where it is missing (Debian packages, as root or
# with sudo), builds once, runs each test project in turn and prints one line "N passed, N failed, N skipped".
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
dotnet build Tollgate.slnx || exit $?

# The test projects, one per source project (tests/Tollgate.Testing is their shared harness, not a test project), and
# the suites of each that touch a database, run again on PostgreSQL and on MariaDB ("" for none).
projects=(Tollgate.Core.Tests Tollgate.AspNetCore.Tests Tollgate.Storage.Tests Tollgate.Redis.Tests Tollgate.Server.Tests)
declare -A server_suites=(
  [Tollgate.Core.Tests]=""
  [Tollgate.AspNetCore.Tests]="FullyQualifiedName~Tollgate.AspNetCore.Tests.Metering"
  [Tollgate.Storage.Tests]="FullyQualifiedName~Tollgate.Storage.Tests.Usage.RetentionTests"
  [Tollgate.Redis.Tests]="FullyQualifiedName~Tollgate.Redis.Tests"
  [Tollgate.Server.Tests]="FullyQualifiedName~Tollgate.Server.Tests.TenantApi|FullyQualifiedName~Tollgate.Server.Tests.Metering|FullyQualifiedName~Tollgate.Server.Tests.Admin|FullyQualifiedName~Tollgate.Server.Tests.Usage.DurabilityTests|FullyQualifiedName~Tollgate.Server.Tests.Usage.SynchronousDurabilityTests|FullyQualifiedName~Tollgate.Server.Tests.Usage.UsageSpoolTests|FullyQualifiedName~Tollgate.Server.Tests.Keys.KeyCacheTests|FullyQualifiedName~Tollgate.Server.Tests.Operations|FullyQualifiedName~Tollgate.Server.Tests.Gateway|FullyQualifiedName~Tollgate.Server.Tests.Usage.RollupTierTests|FullyQualifiedName~Tollgate.Server.Tests.Usage.RawLogPolicyTests|FullyQualifiedName~Tollgate.Server.Tests.Usage.HistoryRetentionTests"
)

# Everything once on the embedded default (SQLite), one project after the other...
for project in "${projects[@]}"; do
  dotnet test "tests/$project" --no-build --logger "trx;LogFileName=sqlite-$project.trx" --results-directory "$results" "$@" \
    || status=$?
done
# ...then the suites that touch a database again on PostgreSQL and on MariaDB: same tests, real servers
# (TOLLGATE_TEST_DATABASE picks the provider of every test app that does not name one).
for provider in Postgres MySql; do
  for project in "${projects[@]}"; do
    [ -n "${server_suites[$project]:-}" ] || continue
    TOLLGATE_TEST_DATABASE=$provider dotnet test "tests/$project" --no-build --filter "${server_suites[$project]}" \
      --logger "trx;LogFileName=$provider-$project.trx" --results-directory "$results" || status=$?
  done
done

# One line from the TRX results (dotnet test's own summary is per project and worded its own way).
passed=0; failed=0; total=0; executed=0
for trx in "$results"/*.trx; do
  [ -e "$trx" ] || continue
  counters=$(grep -o '<Counters [^>]*>' "$trx" || true)
  get() { local n; n=$(echo "$counters" | sed -n "s/.* $1=\"\([0-9]*\)\".*/\1/p"); echo "${n:-0}"; }
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
