FROM node:20-bookworm-slim
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY projections ./projections
COPY bench ./bench
# The benchmark can run against the test double of EventStoreDB, so the build compiles it too.
COPY test/support/esdb-double ./test/support/esdb-double
COPY test/support/gitlab-double ./test/support/gitlab-double
RUN npm run build && npm prune --omit=dev
ENV NODE_ENV=production BACKPLANE_DATA_DIR=/data PORT=4000
VOLUME /data
EXPOSE 4000
CMD ["node", "dist/src/main.js"]
