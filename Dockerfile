# Gatehouse's server in a container: the published packages, built and installed the way a panel
# builder installs them, run with plain Node.js as an unprivileged user.
#
#   docker build -t gatehouse .
#   docker run -d --name gatehouse -p 8080:8080 -v gatehouse-data:/data gatehouse
#
# The embedded SQLite database lives in the /data volume (with the generated SECRET_KEY); set
# DATABASE_URL=postgres://… and SECRET_KEY to use PostgreSQL instead. See docs/deploy.md.

# 1. Build: install the repository, compile the packages and the console, pack the tarballs, and
#    install them with both database drivers into /opt/gatehouse (production dependencies only).
FROM node:22-slim AS build
# A compiler for better-sqlite3 where no prebuilt binary matches the platform.
RUN apt-get update \
  && apt-get install -y --no-install-recommends python3 make g++ \
  && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY package.json package-lock.json tsconfig.base.json tsconfig.build.json ./
COPY scripts ./scripts
COPY packages ./packages
RUN npm ci --no-audit --no-fund
RUN npm run build \
  && mkdir /tarballs \
  && npm pack --pack-destination /tarballs \
    -w @gatehouse/engine -w @gatehouse/client -w @gatehouse/service -w @gatehouse/server -w @gatehouse/cli
WORKDIR /opt/gatehouse
RUN echo '{ "name": "gatehouse-image", "private": true, "type": "module" }' > package.json \
  && npm install --omit=dev --no-audit --no-fund /tarballs/*.tgz \
    "better-sqlite3@$(node -p 'require("/src/node_modules/better-sqlite3/package.json").version')" \
    "pg@$(node -p 'require("/src/node_modules/pg/package.json").version')" \
  && npm cache clean --force

# 2. Run: Node.js and the installed packages only; no compiler, no sources, no npm cache.
FROM node:22-slim
ENV NODE_ENV=production \
  PATH=/opt/gatehouse/node_modules/.bin:$PATH \
  HOST=0.0.0.0 \
  PORT=8080 \
  DATA_DIR=/data \
  DEMO=false
COPY --from=build /opt/gatehouse /opt/gatehouse
RUN mkdir /data && chown node:node /data
VOLUME /data
USER node
WORKDIR /opt/gatehouse
EXPOSE 8080
# Ready means the database answers: /readyz, asked with Node.js itself (the image has no curl).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch(`http://127.0.0.1:${process.env.PORT}/readyz`).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# What `npm start` runs: @gatehouse/server's bundled server (one file, bundle/main.js: a shorter
# start than loading the packages' modules one by one). It migrates, then serves, configured from
# the environment as `gatehouse serve` is; it stops cleanly on SIGTERM (docker stop).
CMD ["node", "node_modules/@gatehouse/server/bundle/main.js"]
