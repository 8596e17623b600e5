#!/usr/bin/env bash
# Installs what the full benchmark needs (Debian packages). Idempotent: installs only what is missing.
# Called by `node bench/run.mjs` unless --no-install (or --smoke) is given.
set -euo pipefail

need=()
command -v openssl   >/dev/null 2>&1 || need+=(openssl)
command -v mitmdump  >/dev/null 2>&1 || need+=(mitmproxy)
command -v nginx     >/dev/null 2>&1 || need+=(nginx)
[ -e /usr/lib/nginx/modules/ngx_http_echo_module.so ] || need+=(libnginx-mod-http-echo)
# ssl_bump needs the OpenSSL build of squid (Debian's plain `squid` is GnuTLS and conflicts with it)
if ! { command -v squid >/dev/null 2>&1 && squid -v 2>/dev/null | grep -q -- '--with-openssl'; }; then
  need+=(squid-openssl)
fi
[ -x /usr/lib/squid/security_file_certgen ] || { [[ " ${need[*]-} " == *" squid-openssl "* ]] || need+=(squid-openssl); }

if ((${#need[@]})); then
  echo "bench/setup.sh: installing ${need[*]}" >&2
  if [ "$(id -u)" != 0 ]; then SUDO=sudo; else SUDO=; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
  # Debian's packages may start their own daemons where an init system runs: the bench starts its own copies.
  for svc in nginx squid; do
    if command -v service >/dev/null 2>&1; then $SUDO service "$svc" stop >/dev/null 2>&1 || true; fi
  done
else
  echo "bench/setup.sh: all packages present" >&2
fi
