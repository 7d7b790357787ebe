# flask-eval: one image for the store, the workers and the CLI (the command picks the role; see
# docker-compose.yml). Two stages: `build` installs every dependency and compiles (npm ci runs
# `prepare` = scripts/build.mjs: tsc to dist/ and the workflow bundle), the image itself has the
# production dependencies, dist/ and what dist/ reads at run time (bin/, data/, the HTML report's
# assets, package.json), no TypeScript sources. No key is ever baked in: endpoints and keys come
# from the container's environment at run time.
#
# Carried out step by step, without Docker, by tests/integration/dockerSteps.test.ts: RUN steps use
# paths relative to WORKDIR, and every COPY names one source.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package.json
COPY package-lock.json package-lock.json
COPY tsconfig.json tsconfig.json
COPY tsconfig.build.json tsconfig.build.json
COPY scripts/build.mjs scripts/build.mjs
COPY data data
COPY core core
COPY workflows workflows
COPY activities activities
COPY worker worker
COPY server server
COPY client client
COPY simulator simulator
RUN npm ci --no-audit --no-fund

FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package.json
COPY package-lock.json package-lock.json
# No lifecycle scripts: `prepare` needs the sources and TypeScript, which are not here (dist/ is).
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist dist
COPY bin bin
COPY data data
COPY core/report/html core/report/html
# The results folder (/results) is a bind mount handed to the image's user by compose's
# results-owner one-shot; the processes run as node (uid 1000) unless FLASK_UID says otherwise.
USER node
ENTRYPOINT ["node", "bin/flask-eval.js"]
CMD ["--help"]
