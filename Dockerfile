# flask-eval workers and CLI. The image carries the sources (run through tsx) and the data.
FROM node:20-bookworm-slim
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund
COPY . .
ENTRYPOINT ["node", "bin/flask-eval.js"]
CMD ["--help"]
