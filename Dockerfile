# Multi-stage build: a full Rust toolchain to compile, a slim Debian to run.
FROM rust:1.95-bookworm AS build
WORKDIR /src
# Everything the build reads: the manifest declares benches (cargo checks every
# target exists), build.rs and src embed migrations/, config/ and web/.
# .ci/docker-context builds from exactly these files.
COPY Cargo.toml Cargo.lock build.rs ./
COPY src ./src
COPY crates ./crates
COPY benches ./benches
COPY migrations ./migrations
COPY config ./config
COPY web ./web
RUN cargo build --release --locked --bin rtchat

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home /app rtchat
WORKDIR /app
COPY --from=build /src/target/release/rtchat /usr/local/bin/rtchat
COPY config ./config
RUN mkdir -p /app/data && chown -R rtchat /app
USER rtchat
ENV RTCHAT_ENV=production PORT=8080
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --retries=5 CMD curl -fsS http://127.0.0.1:8080/health || exit 1
ENTRYPOINT ["rtchat"]
CMD ["serve"]
