# Multi-stage build: compile in the Rust image, run as a non-root user in a slim Debian.
FROM rust:1-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends libpq-dev libssl-dev pkg-config \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cargo build --release --bin carebridge

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends libpq5 libssl3 ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home /var/lib/carebridge carebridge \
    && mkdir -p /var/lib/carebridge && chown carebridge /var/lib/carebridge
COPY --from=build /src/target/release/carebridge /usr/local/bin/carebridge
USER carebridge
WORKDIR /var/lib/carebridge
# The embedded SQLite file lives on this volume; set CAREBRIDGE_DATABASE_URL=postgres://… to use
# PostgreSQL instead.
VOLUME ["/var/lib/carebridge"]
ENV CAREBRIDGE_LISTEN=0.0.0.0:8080 \
    CAREBRIDGE_DATABASE_URL=sqlite:///var/lib/carebridge/carebridge.db \
    RUST_LOG=info
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD curl -fsS http://127.0.0.1:8080/fhir/metadata -o /dev/null || exit 1
ENTRYPOINT ["carebridge"]
CMD ["serve"]
