# flask-eval: one image for the store, the workers and the CLI (the command picks the role; see
# docker-compose.yml). Sources run through tsx, no build step. No key is ever baked in: endpoints and
# keys come from the container's environment at run time.
FROM node:20-bookworm-slim
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY . .
# The results folder belongs to the image's user (node, uid 1000): a named volume mounted there
# inherits that ownership; a bind mount is handed over by the results-owner one-shot in compose.
RUN mkdir -p /results && chown node:node /results
USER node
ENV NODE_ENV=production
ENTRYPOINT ["node", "bin/flask-eval.js"]
CMD ["--help"]
