# Portolan: one binary plus its static files and browser bundle.
# Build: docker build -t portolan .   Run: see docker-compose.yml.

FROM rust:1-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends nodejs npm && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# web/build.sh installs the wasm target, the matching wasm-bindgen and wasm-opt itself.
RUN bash web/build.sh --release \
 && cargo build --release -p portolan-server --bin portolan

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates && rm -rf /var/lib/apt/lists/* \
 && useradd --system --home /app portolan
WORKDIR /app
COPY --from=build /src/target/release/portolan /usr/local/bin/portolan
COPY --from=build /src/target/site /app/site
COPY --from=build /src/static /app/static
# An image is for real use: the development sign-in is refused unless PORTOLAN_ENV is overridden.
ENV PORTOLAN_ADDR=0.0.0.0:8080 \
    PORTOLAN_ENV=production \
    PORTOLAN_SITE_ROOT=/app/site \
    PORTOLAN_STATIC_DIR=/app/static
USER portolan
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s CMD ["/bin/sh", "-c", "exec 3<>/dev/tcp/127.0.0.1/8080 && printf 'GET /readyz HTTP/1.0\\r\\n\\r\\n' >&3 && grep -q ' 200 ' <&3"]
ENTRYPOINT ["portolan"]
CMD ["serve"]
