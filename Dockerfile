# Veil: control plane + egress proxy. Build: docker build -t veil .
# No secrets are baked in: the master key, admin key and CA come from volumes or the environment.

# ---- build: compile TypeScript and better-sqlite3's native addon, then drop dev dependencies
# Node 24 LTS (Node 20 reached end of life on 2026-04-30); the package itself still runs on 20.18+.
FROM node:24-bookworm-slim AS build
# Toolchain for better-sqlite3 when no prebuilt binary matches (node-gyp needs python3, make, g++).
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: the root "prepare" script compiles src/, which is not copied yet (keeps this
# layer cached across source edits). better-sqlite3 is the only dependency with an install script.
RUN npm ci --ignore-scripts --no-audit --no-fund \
 && npm rebuild better-sqlite3
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
# Prune: dev dependencies, and better-sqlite3's build leftovers (sources, objects: ~25 MB); only
# build/Release/better_sqlite3.node is loaded at run time.
RUN npm run build \
 && npm prune --omit=dev --no-audit --no-fund \
 && cd node_modules/better-sqlite3 \
 && mv build/Release/better_sqlite3.node /tmp/ \
 && rm -rf build deps src \
 && mkdir -p build/Release && mv /tmp/better_sqlite3.node build/Release/

# ---- runtime: node, the compiled app and production dependencies only
FROM node:24-bookworm-slim AS runtime
# ca-certificates: the system trust bundle Veil extends for clients and uses for upstream TLS.
# hadolint ignore=DL3008
# npm/npx/corepack: not needed to run Veil, and one less tool for an attacker in the container.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && rm -rf /usr/local/lib/node_modules/npm /usr/local/lib/node_modules/corepack \
      /usr/local/bin/npm /usr/local/bin/npx /usr/local/bin/corepack /opt/yarn* /usr/local/bin/yarn /usr/local/bin/yarnpkg \
 && groupadd --system --gid 10001 veil \
 && useradd --system --uid 10001 --gid veil --home-dir /var/lib/veil --no-create-home --shell /usr/sbin/nologin veil \
 && mkdir -p /var/lib/veil /etc/veil/certs \
 && chown veil:veil /var/lib/veil /etc/veil/certs \
 && chmod 0700 /var/lib/veil /etc/veil/certs
ENV NODE_ENV=production \
    VEIL_DATA_DIR=/var/lib/veil \
    VEIL_CA_DIR=/etc/veil/certs
WORKDIR /app
# Owned by root and read-only for the app user: a compromised process cannot rewrite the code.
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
USER 10001:10001
# Data dir: SQLite database, master key, generated admin key. Certs: Veil's CA (ca.pem + ca-key.pem).
VOLUME ["/var/lib/veil", "/etc/veil/certs"]
EXPOSE 8080 3128
# Control-plane health; a stand-alone proxy container (no API on 8080) should override or disable it.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "require('node:http').get('http://127.0.0.1:8080/health', (r) => process.exit(r.statusCode === 200 ? 0 : 1)).on('error', () => process.exit(1)).setTimeout(4000, () => process.exit(1))"]
ENTRYPOINT ["node", "/app/dist/cli/main.js"]
CMD ["serve", "--api-listen", "0.0.0.0:8080", "--proxy-listen", "0.0.0.0:3128"]
