#!/bin/sh
# Runs every Go fuzz target in the module for a bounded time each:
#   sh scripts/fuzz.sh 10s     (CI: short)
#   sh scripts/fuzz.sh 5m      (make fuzz uses 60s)
# A crasher is written by Go to the package's testdata/fuzz/<Target>/ and
# from then on runs as a regression case in plain `go test`: commit it with
# the fix.
set -eu
fuzztime=${1:-20s}
GO=${GO:-go}
found=0
for pkg in $($GO list ./...); do
  for fn in $($GO test -list '^Fuzz' "$pkg" 2>/dev/null | grep '^Fuzz' || true); do
    found=$((found + 1))
    echo "== fuzz $pkg $fn for $fuzztime"
    $GO test -run '^$' -fuzz "^${fn}\$" -fuzztime "$fuzztime" "$pkg"
  done
done
echo "fuzz: $found targets, each for $fuzztime, no crashers"
