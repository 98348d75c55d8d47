# syntax=docker/dockerfile:1
# The bot as a small image: `docker build -t slack-approval-bot .`, then `docker compose up -d` (see README).
#
# Two stages so that the image holds the installed package and nothing of the build: no source tree, no
# build tools, no pip cache. Socket Mode dials out to Slack, so the bot listens on no port and the image
# exposes none. With HEALTH_PORT set, /healthz and /metrics listen on that port: publish it with `ports:`
# (docker-compose.yml) or `docker run -p`; the image declares no EXPOSE so that it does not promise one.

FROM python:3.11-slim AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/approval-bot
WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY workflows ./workflows
RUN /opt/approval-bot/bin/pip install --no-cache-dir .

FROM python:3.11-slim
ENV PATH=/opt/approval-bot/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
COPY --from=build /opt/approval-bot /opt/approval-bot
# A system user with no shell; its home is the working directory, where `ops.sqlite3` (OPS_DB's default) and
# any `.env` live. Mode 700: `.env` holds the tokens.
RUN useradd --system --uid 10001 --user-group --home-dir /var/lib/approval-bot --create-home \
        --shell /usr/sbin/nologin approval-bot \
    && chmod 700 /var/lib/approval-bot
WORKDIR /var/lib/approval-bot
# Numeric, so that a runtime that insists on a non-root user (Kubernetes `runAsNonRoot`) can verify it.
USER 10001:10001
# The bot itself is PID 1: it handles SIGTERM (a graceful shutdown that ends within 10 s).
ENTRYPOINT ["approval-bot"]
CMD ["run"]
