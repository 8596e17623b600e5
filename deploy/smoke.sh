#!/usr/bin/env bash
# Smoke test of the repository's Dockerfile: build the image, run it as a user would, and check what
# matters in production: health (and the image's own HEALTHCHECK), non-root, file modes, no npm in
# the runtime image, a real request from a sample sandbox container substituted on the way out and
# scrubbed on the way back, and a clean exit (0) on SIGTERM.
#
# Runs as root with podman (runc) or docker. The containers share a network namespace this script
# creates and removes (podman), so the image's default ports are used without touching the host's.
# Where the base image cannot be pulled (no registry reachable), a stand-in is built from Debian
# packages and Node from the npm registry (smoke/standin-base.sh) and the output says so.
#
# usage: deploy/smoke.sh            env: VEIL_SMOKE_ENGINE=podman|docker, VEIL_SMOKE_CACHE=dir
set -euo pipefail
cd "$(dirname "$0")/.."

engine=${VEIL_SMOKE_ENGINE:-$(command -v podman >/dev/null && echo podman || echo docker)}
cache=${VEIL_SMOKE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/veil-smoke}
image=veil:smoke
run_id=veil-smoke-$$
step() { printf '\n== %s\n' "$*"; }
fail() { echo "SMOKE FAILED: $*" >&2; exit 1; }
# This machine kind refuses the engines' default rlimits; lower ones work everywhere.
limits=(--ulimit nofile=4096:4096 --ulimit nproc=4096:4096)

step "base image ($engine)"
base=$(sed -n 's/^FROM \([^ ]*\).*/\1/p' Dockerfile | sort -u)
[ "$(wc -l <<<"$base")" = 1 ] || fail "expected one base image in the Dockerfile, found: $base"
qualified=docker.io/library/$base
if "$engine" image inspect "$qualified" >/dev/null 2>&1 || "$engine" image inspect "$base" >/dev/null 2>&1; then
  echo "using $base (present locally)"
elif timeout 60 "$engine" pull -q "$qualified" >/dev/null 2>&1; then
  echo "pulled $qualified"
else
  echo "$qualified cannot be pulled (no registry reachable): building a stand-in"
  bash deploy/smoke/standin-base.sh "$engine" "$qualified" "$cache"
fi

step "build"
started=$(date +%s)
build_format=(); [ "$engine" = podman ] && build_format=(--format docker)  # OCI images drop HEALTHCHECK
"$engine" build "${build_format[@]}" --network host -q -t "$image" . >/dev/null
echo "built $image in $(($(date +%s) - started)) s"
size=$("$engine" image inspect --format '{{.Size}}' "$image")
base_size=$("$engine" image inspect --format '{{.Size}}' "$qualified" 2>/dev/null || "$engine" image inspect --format '{{.Size}}' "$base")
echo "image size: $((size / 1000000)) MB ($(((size - base_size) / 1000000)) MB above the base)"

cleanup() {
  "$engine" rm -f "$run_id" "$run_id-sandbox" >/dev/null 2>&1 || true
  "$engine" volume rm -f "$run_id-data" "$run_id-certs" >/dev/null 2>&1 || true
  [ -n "${upstream_pid:-}" ] && kill "$upstream_pid" 2>/dev/null || true
  [ "${netns:-}" ] && ip netns del "$netns" 2>/dev/null || true
  rm -rf "${work:-/nonexistent}"
}
trap cleanup EXIT
work=$(mktemp -d)

if [ "$engine" = podman ]; then
  netns=$run_id
  ip netns add "$netns"
  ip -n "$netns" link set lo up
  in_ns() { ip netns exec "$netns" "$@"; }
  network=(--network "ns:/run/netns/$netns")
else
  # docker cannot join a named namespace: host network, so the default ports must be free here.
  in_ns() { "$@"; }
  network=(--network host)
fi

step "upstream (an API on 127.0.0.1:9080 that echoes the Authorization it received)"
cat >"$work/upstream.py" <<'PY'
import http.server, json, sys
class Echo(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        received = self.headers.get('Authorization', '')
        print('upstream received: ' + received, file=sys.stderr, flush=True)
        body = json.dumps({'authorization': received}).encode()
        self.send_response(200)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args): pass
http.server.HTTPServer(('127.0.0.1', 9080), Echo).serve_forever()
PY
# `ip netns exec` may fork: the server writes its own pid so that cleanup stops the right process.
in_ns sh -c 'echo $$ >"$1/upstream.pid"; exec python3 "$1/upstream.py"' sh "$work" >/dev/null 2>"$work/upstream.log" &
for _ in $(seq 1 50); do [ -s "$work/upstream.pid" ] && break; sleep 0.1; done
upstream_pid=$(cat "$work/upstream.pid")

step "veil serve in a container"
admin_key=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
"$engine" volume create "$run_id-data" >/dev/null
"$engine" volume create "$run_id-certs" >/dev/null
"$engine" run -d --name "$run_id" "${network[@]}" "${limits[@]}" \
  -e VEIL_ADMIN_API_KEY="$admin_key" \
  -v "$run_id-data:/var/lib/veil" -v "$run_id-certs:/etc/veil/certs" \
  "$image" serve --api-listen 127.0.0.1:8080 --proxy-listen 127.0.0.1:3128 >/dev/null
api() { in_ns curl -sS --max-time 5 -H "Authorization: Bearer $admin_key" -H 'Content-Type: application/json' "$@"; }
for _ in $(seq 1 60); do in_ns curl -fsS --max-time 2 http://127.0.0.1:8080/health >/dev/null 2>&1 && break; sleep 0.5; done
in_ns curl -fsS --max-time 2 http://127.0.0.1:8080/health || { "$engine" logs "$run_id" >&2; fail "GET /health did not answer 200"; }
echo
if [ "$engine" = podman ]; then
  podman healthcheck run "$run_id" >/dev/null || fail "the image's HEALTHCHECK fails"
  echo "HEALTHCHECK: healthy"
fi

step "non-root, file modes, no npm"
uid=$("$engine" exec "$run_id" id -u)
[ "$uid" = 10001 ] || fail "runs as uid $uid, expected 10001"
echo "uid $uid"
modes=$("$engine" exec "$run_id" sh -c 'stat -c "%a %n" /var/lib/veil /var/lib/veil/master.key /etc/veil/certs /etc/veil/certs/ca-key.pem')
echo "$modes"
while read -r mode path; do
  case "$path" in
    /var/lib/veil|/etc/veil/certs) [ "$mode" = 700 ] || fail "$path has mode $mode, expected 700" ;;
    *) [ "$mode" = 600 ] || fail "$path has mode $mode, expected 600" ;;
  esac
done <<<"$modes"
if "$engine" exec "$run_id" sh -c 'command -v npm || command -v npx'; then fail "npm/npx present in the runtime image"; fi
echo "no npm/npx"

step "a sandbox container's request, substituted and scrubbed"
value="sk-smoke-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
api -X POST http://127.0.0.1:8080/secret -d "{\"name\":\"smoke_token\",\"value\":\"$value\",\"hosts\":[\"127.0.0.1\"]}" >/dev/null
sandbox=$(api -X POST http://127.0.0.1:8080/sandbox -d '{"name":"smoke","secrets":[{"API_TOKEN":"smoke_token"}]}')
sandbox_id=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])' <<<"$sandbox")
proxy_token=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["proxyToken"])' <<<"$sandbox")
placeholder=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["env"]["API_TOKEN"])' <<<"$sandbox")
# The sandbox holds only the placeholder and its proxy credentials; it speaks plain HTTP proxying.
reply=$("$engine" run --rm --name "$run_id-sandbox" "${network[@]}" "${limits[@]}" --entrypoint node \
  -e API_TOKEN="$placeholder" -e PROXY_AUTH="$sandbox_id:$proxy_token" "$image" -e '
    const http = require("node:http");
    const req = http.get({ host: "127.0.0.1", port: 3128, path: "http://127.0.0.1:9080/v1/me", headers: {
      host: "127.0.0.1:9080", authorization: `Bearer ${process.env.API_TOKEN}`,
      "proxy-authorization": `Basic ${Buffer.from(process.env.PROXY_AUTH).toString("base64")}` } }, (res) => {
      let body = ""; res.on("data", (c) => (body += c)); res.on("end", () => { console.log(res.statusCode, body); });
    });
    req.on("error", (e) => { console.error(e.message); process.exit(1); });')
echo "sandbox got: $reply"
grep -q "upstream received: Bearer $value" "$work/upstream.log" || fail "the upstream did not receive the real value"
echo "upstream received the real value"
[[ "$reply" == "200 "* ]] || fail "sandbox request failed: $reply"
[[ "$reply" == *"$placeholder"* ]] || fail "the echoed credential was not scrubbed back to the placeholder"
[[ "$reply" != *"$value"* ]] || fail "the real value reached the sandbox"
if "$engine" logs "$run_id" 2>&1 | grep -qF "$value"; then fail "the real value appears in the container log"; fi
echo "the sandbox saw only the placeholder; the log holds no value"

step "SIGTERM"
"$engine" stop -t 20 "$run_id" >/dev/null
code=$("$engine" inspect --format '{{.State.ExitCode}}' "$run_id")
[ "$code" = 0 ] || { "$engine" logs "$run_id" | tail -n 20 >&2; fail "exit code $code after SIGTERM, expected 0"; }
echo "exited 0"

printf '\nSMOKE PASSED (%s, %s)\n' "$engine" "$image"
