# wecomflow container image.
#
#   docker build -t wecomflow:local --build-arg VERSION=1.2.3 --build-arg COMMIT=$(git rev-parse --short HEAD) .
#   docker run -p 8080:8080 -v wecomflow-data:/var/lib/wecomflow wecomflow:local
#
# The default database is SQLite in the volume; docker-compose.yml runs it against MySQL 8.

# ---- build: a static, pure-Go binary (the SQLite driver needs no cgo); nomsgpack leaves out
# gin's MessagePack codec, which wecomflow never uses (about 9 MB of binary)
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
ARG COMMIT=unknown
RUN CGO_ENABLED=0 go build -trimpath -tags nomsgpack \
      -ldflags "-s -w -X main.version=${VERSION} -X main.commit=${COMMIT}" \
      -o /out/wecomflow .

# ---- run: alpine, so busybox wget can serve the compose health check
FROM alpine:3.22
# ca-certificates: HTTPS to the WeCom API; tzdata: schedule triggers' time zones (default Asia/Shanghai).
RUN apk add --no-cache ca-certificates tzdata \
 && addgroup -S -g 65532 wecomflow \
 && adduser -S -D -H -u 65532 -G wecomflow -h /var/lib/wecomflow -s /sbin/nologin wecomflow \
 && install -d -o 65532 -g 65532 -m 0750 /var/lib/wecomflow
COPY --from=build /out/wecomflow /usr/local/bin/wecomflow
# The working directory holds the state: the SQLite database and, when
# WECOMFLOW_SECRET_KEY is not set, the generated key at data/secret.key.
WORKDIR /var/lib/wecomflow
ENV WECOMFLOW_ADDR=:8080 \
    WECOMFLOW_DB=sqlite:///var/lib/wecomflow/wecomflow.db
VOLUME /var/lib/wecomflow
EXPOSE 8080
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/wecomflow"]
CMD ["serve"]
