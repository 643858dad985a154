# A static `meshctl` image. From the workspace root:
#   docker build -t meshctl .
#   docker run --rm meshctl --mesh istio split reviews v1=90 v2=10          # render: no cluster
#   docker run --rm -v ~/.kube/config:/kubeconfig:ro -e KUBECONFIG=/kubeconfig \
#     meshctl --target apply --mesh istio split reviews v1=90 v2=10
#
# The binary is linked statically (glibc's static C runtime, `+crt-static`), so the final image
# holds nothing else but the CA bundle for TLS. `cargo xtask ci` builds the same binary with the
# same target and flags (xtask/src/static_binary.rs) and checks that it is static and runs.

FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
ENV RUSTFLAGS="-C target-feature=+crt-static"
RUN cargo build --locked --release -p meshctl --target x86_64-unknown-linux-gnu \
 && cp target/x86_64-unknown-linux-gnu/release/meshctl /meshctl \
 && /meshctl --version

FROM scratch
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /meshctl /usr/local/bin/meshctl
ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/meshctl"]
