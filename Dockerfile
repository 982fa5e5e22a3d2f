# Anshin gRPC service (README.md, "Container").
#   docker build -t anshin .
#   docker run -d --name anshin -p 127.0.0.1:50051:50051 -v anshin-data:/data anshin
# First start: `serve --init` makes /data a state directory (`anshin init`: keys,
# a local CA and certificates, one token per role, a writable rules copy) and
# creates its SQLite database; later starts reuse it. Everything lives in /data.
# With PostgreSQL: compose.yaml.

FROM python:3.11-slim AS build
WORKDIR /src
# Every file the lock names, hash-checked: nothing unlocked enters the image.
COPY requirements.lock ./
RUN pip wheel --no-cache-dir --require-hashes --no-deps -r requirements.lock -w /wheels
COPY pyproject.toml README.md ./
COPY proto ./proto
COPY server ./server
COPY checks ./checks
COPY rules ./rules
COPY timing ./timing
# The project's own wheel, built with the locked setuptools.
RUN pip install --no-cache-dir --no-index --find-links /wheels setuptools wheel \
 && pip wheel --no-cache-dir --no-deps --no-build-isolation -w /wheels .

FROM python:3.11-slim
# /data is created empty (no skeleton files) and owned by the service user.
RUN useradd --system --uid 10001 --no-create-home --home-dir /data anshin \
 && mkdir -m 0700 /data && chown anshin: /data
# Only the runtime dependencies, resolved from the locked wheels alone
# (--no-index: there is exactly one locked version of each to choose).
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-index --find-links /wheels anshin && rm -rf /wheels
USER anshin
WORKDIR /data
VOLUME /data
# The state directory supplies the TLS certificate, auth config, rules and
# database. `anshin` commands run inside the container (`docker exec anshin
# anshin …`, the health check among them) reach the server over TLS with the
# trial CA and call as the trial operator (its token; its client certificate
# too once mutual TLS is turned on with ANSHIN_CLIENT_CA=/data/tls/ca.crt):
# whoever can exec into the container can read /data anyway.
ENV ANSHIN_STATE_DIR=/data \
    ANSHIN_LISTEN=0.0.0.0:50051 \
    ANSHIN_CA=/data/tls/ca.crt \
    ANSHIN_CERT=/data/tls/clients/operator.crt \
    ANSHIN_KEY=/data/tls/clients/operator.key \
    ANSHIN_TOKEN_FILE=/data/tokens/operator.token \
    PYTHONUNBUFFERED=1
EXPOSE 50051
# The standard grpc.health.v1 service, over TLS, through the CLI (no extra binary).
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
    CMD ["anshin", "health", "--server", "127.0.0.1:50051"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["anshin"]
CMD ["serve", "--init"]
