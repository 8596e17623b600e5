# mitmproxy addon: swap placeholder -> secret in request headers and body, only for allowed hosts.
# Adapted from shared/peers/mitm_subst.py (tested with mitmproxy 8.1.1, Debian bookworm).
# Configured by env: BENCH_PLACEHOLDER, BENCH_SECRET, BENCH_ALLOWED_HOSTS (comma list),
# BENCH_PIN_SUFFIX + BENCH_PIN_IP: names equal to / ending in .SUFFIX connect to PIN_IP (no /etc/hosts edits).
import os
from mitmproxy import http

PLACEHOLDER = os.environ["BENCH_PLACEHOLDER"]
SECRET = os.environ["BENCH_SECRET"]
ALLOWED_HOSTS = set(h for h in os.environ.get("BENCH_ALLOWED_HOSTS", "bench.local").split(",") if h)
PIN_SUFFIX = os.environ.get("BENCH_PIN_SUFFIX", "bench.local")
PIN_IP = os.environ.get("BENCH_PIN_IP", "127.0.0.1")
PH_B, SECRET_B = PLACEHOLDER.encode(), SECRET.encode()


class Subst:
    @staticmethod
    def pinned(host: str) -> bool:
        return host == PIN_SUFFIX or host.endswith("." + PIN_SUFFIX)

    def server_connect(self, data) -> None:
        # CONNECT tunnels (mitmproxy dials at CONNECT time): keep the name for SNI, dial the pinned address
        host, port = data.server.address
        if self.pinned(host):
            if data.server.sni is None:
                data.server.sni = host
            data.server.address = (PIN_IP, port)

    def requestheaders(self, flow: http.HTTPFlow) -> None:
        # plain-HTTP absolute-form requests: mitmproxy dials (request.host, request.port); pin it here, before
        # it picks a connection, so keep-alive upstream connections are reused (a rewrite in server_connect
        # alone makes every request miss the pool). The Host header keeps the name.
        if flow.request.scheme == "http" and self.pinned(flow.request.host):
            flow.metadata["bench_host"] = flow.request.host
            host_header = flow.request.headers.get("Host")
            flow.request.host = PIN_IP
            if host_header is not None:
                flow.request.headers["Host"] = host_header

    def request(self, flow: http.HTTPFlow) -> None:
        # destination: the absolute-URI host (pinned above) or, in a tunnel, the TLS server name
        # (flow.request.host is then the pinned IP); never the Host header
        host = flow.metadata.get("bench_host") or flow.server_conn.sni or flow.request.host
        if host not in ALLOWED_HOSTS:
            return
        h = flow.request.headers
        for k, v in list(h.items(multi=True)):
            if PLACEHOLDER in v:
                vals = h.get_all(k)
                h.set_all(k, [x.replace(PLACEHOLDER, SECRET) for x in vals])
        if PLACEHOLDER in flow.request.path:
            flow.request.path = flow.request.path.replace(PLACEHOLDER, SECRET)
        raw = flow.request.raw_content  # bytes as sent (no decoding of content-encoding)
        if raw and PH_B in raw:
            new = raw.replace(PH_B, SECRET_B)
            flow.request.raw_content = new  # setter does NOT fix content-length
            if "transfer-encoding" not in h:
                h["content-length"] = str(len(new))


addons = [Subst()]
