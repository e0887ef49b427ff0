#!/bin/sh
# Build realcp into $1 (default: ../../.cache/realcluster/bin/realcp) with its own Go build
# cache. Unchanged sources and flags leave the binary untouched: Go neither recompiles nor
# relinks. The Kubernetes version is stamped the way upstream's release build stamps it
# (a module dependency carries no version otherwise), read from go.mod so it is pinned once.
set -eu
cd "$(dirname "$0")"
root=$(cd ../.. && pwd)
out=${1:-$root/.cache/realcluster/bin/realcp}
k8s=$(awk '$1 == "k8s.io/kubernetes" { print $2 }' go.mod)
minor=$(echo "$k8s" | cut -d. -f2)
ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags="$ldflags -X $pkg.gitVersion=$k8s -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
done
export GOCACHE="${GOCACHE:-$root/.cache/realcluster/go-build}"
# -buildvcs=false: stamping the repo's commit would relink after every commit.
exec go build -buildvcs=false -ldflags "$ldflags" -o "$out" .
