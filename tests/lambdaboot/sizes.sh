#!/bin/sh
# sizes.sh builds the Lambda bootstraps exactly as `make build` does
# (linux/arm64, CGO_ENABLED=0, -trimpath, -tags lambda.norpc, -ldflags='-s -w')
# into a temporary directory, prints each one's size, and exits 1 when one
# is over LIMIT bytes (default 12000000, issue 8's target). It needs only Go.
#
#   tests/lambdaboot/sizes.sh                 every functions/* folder
#   tests/lambdaboot/sizes.sh api step-next   only those
#   LIMIT=11000000 tests/lambdaboot/sizes.sh  a tighter budget
#   GCFLAGS='github.com/aws/...=-l' tests/lambdaboot/sizes.sh
#                                             try extra compiler flags
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
limit=${LIMIT:-12000000}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
cd "$root"
if [ $# -eq 0 ]; then
	# shellcheck disable=SC2046
	set -- $(ls functions)
fi
pkgs=""
for f in "$@"; do
	pkgs="$pkgs ./functions/$f"
done
# One go command builds them all (shared work, both cores).
# shellcheck disable=SC2086
GOOS=linux GOARCH=arm64 CGO_ENABLED=0 go build -trimpath -tags lambda.norpc ${GCFLAGS:+-gcflags="$GCFLAGS"} -ldflags='-s -w' -o "$out/" $pkgs
status=0
printf '%-26s %12s %8s\n' function bytes MB
for f in "$@"; do
	size=$(wc -c <"$out/$f")
	note=""
	if [ "$size" -gt "$limit" ]; then
		note="  over $limit"
		status=1
	fi
	awk -v f="$f" -v s="$size" -v n="$note" 'BEGIN { printf "%-26s %12d %8.2f%s\n", f, s, s / 1e6, n }'
done
exit $status
