# The build stage compiles the service alone (tsconfig.image.json: src and projections) and bundles the
# console (without it the image answers / with 503); the image that ships takes their output and
# production dependencies only, so no test double or benchmark is in it.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.image.json ./
COPY src ./src
COPY projections ./projections
COPY scripts/build-console.mjs ./scripts/build-console.mjs
# esbuild is a dev dependency: the console is bundled before the prune.
RUN npx tsc -p tsconfig.image.json && node scripts/build-console.mjs && npm prune --omit=dev --no-audit --no-fund

FROM node:20-bookworm-slim
# Backups run the git client (fetch into mirrors, bundles, restore pushes) over HTTPS.
RUN apt-get update && apt-get install -y --no-install-recommends git ca-certificates && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist/src ./dist/src
COPY --from=build /app/dist/projections ./dist/projections
COPY --from=build /app/dist/console ./dist/console
ENV NODE_ENV=production BACKPLANE_DATA_DIR=/data PORT=4000
VOLUME /data
EXPOSE 4000
# The Node options of `npm start`: a young generation of at most 8 MB (two semi-spaces of 4), where V8
# would let it grow to 32 MB under a burst of work and keep it until long after (see the README).
CMD ["node", "--max-semi-space-size=4", "dist/src/main.js"]
