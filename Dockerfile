# Anshin gRPC service. Build: docker build -t anshin .
# Run:   docker run -p 50051:50051 -v anshin-data:/data anshin
# With PostgreSQL: -e ANSHIN_DB=postgresql://user@host/db -e ANSHIN_LOG_KEY_FILE=/keys/log-signing.key (see docs/operations.md)
FROM python:3.11-slim AS build
WORKDIR /src
# Compilers are only needed if a wheel is missing for this platform.
RUN apt-get update && apt-get install -y --no-install-recommends gcc && rm -rf /var/lib/apt/lists/*
COPY pyproject.toml README.md ./
COPY proto ./proto
COPY server ./server
COPY checks ./checks
COPY rules ./rules
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
RUN useradd --system --uid 10001 --home-dir /data --create-home anshin
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
USER anshin
WORKDIR /data
ENV ANSHIN_LISTEN=0.0.0.0:50051 \
    ANSHIN_DB=sqlite:////data/anshin.db \
    PYTHONUNBUFFERED=1
EXPOSE 50051
# The standard grpc.health.v1 service, asked through the CLI (no extra binary).
HEALTHCHECK --interval=15s --timeout=5s --start-period=10s --retries=3 \
    CMD ["anshin", "health", "--server", "127.0.0.1:50051"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["anshin"]
CMD ["serve"]
