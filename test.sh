#!/usr/bin/env bash
# Runs every Tollgate test. Installs what the tests need where it is missing (Debian packages, as root or
# with sudo), builds, runs the whole suite once and prints one line "N passed, N failed, N skipped".
# The tests start their own throw-away servers on free loopback ports and stop them; nothing is left running.
set -euo pipefail
cd "$(dirname "$0")"

# Debian packages the suites need: real servers and tools, never mocks.
PACKAGES=(redis-server chromium)

missing=()
for package in "${PACKAGES[@]}"; do
  dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done
if ((${#missing[@]})); then
  echo "Installing ${missing[*]} ..."
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

command -v dotnet >/dev/null || { echo "The .NET 10 SDK is needed: https://dotnet.microsoft.com/download" >&2; exit 1; }

results="$(pwd)/TestResults"
rm -rf "$results"
status=0
dotnet test Tollgate.slnx --logger "trx" --results-directory "$results" "$@" || status=$?

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
