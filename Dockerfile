# One image for every role: agent, coordinator, bootstrap, run and the kubectl plugin.
# Build stage: install dev dependencies and bundle each entry point with esbuild.
FROM node:24-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY scripts/ scripts/
COPY src/ src/
COPY agent/ agent/
COPY leader/ leader/
RUN npm run build

# Runtime stage: the bundles need no node_modules.
FROM node:24-slim
# OCI annotations: version and licence are package.json's (test/dockerfile.test.ts keeps them equal).
LABEL org.opencontainers.image.title="lockstep" \
      org.opencontainers.image.description="Multi-host inference on Kubernetes that starts and recovers as one unit" \
      org.opencontainers.image.source="https://github.com/lockstep-dev/lockstep" \
      org.opencontainers.image.url="https://github.com/lockstep-dev/lockstep" \
      org.opencontainers.image.version="0.1.0" \
      org.opencontainers.image.licenses="Apache-2.0"
WORKDIR /opt/lockstep
COPY --from=build /src/dist/ ./dist/
RUN ln -s /opt/lockstep/dist/lockstep.mjs /usr/local/bin/lockstep \
 && ln -s /opt/lockstep/dist/plugin/kubectl-lockstep.mjs /usr/local/bin/kubectl-lockstep \
 && ln -s /opt/lockstep/dist/plugin/kubectl_complete-lockstep.mjs /usr/local/bin/kubectl_complete-lockstep
# Non-root by default; the agent's DaemonSet runs it privileged where it must.
USER 65532:65532
ENTRYPOINT ["lockstep"]
CMD ["--help"]
