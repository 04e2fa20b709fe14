# Samizdat: runs the bot on the chat platforms configured through the environment.
#   docker build -t samizdat .
#   docker run -e SAMIZDAT_DISCORD__TOKEN=... -v samizdat-data:/data samizdat
# The terminal chat:  docker run -it -v samizdat-data:/data samizdat samizdat chat
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    SAMIZDAT_DATA_DIR=/data \
    SAMIZDAT_HEALTH__ENABLED=true \
    SAMIZDAT_HEALTH__PORT=8080

RUN groupadd --system --gid 10001 samizdat \
    && useradd --system --uid 10001 --gid samizdat --home-dir /home/samizdat --create-home samizdat \
    && mkdir -p /data/index \
    && chown -R samizdat:samizdat /data

WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY knowledge ./knowledge
COPY config ./config
# The same install step as the README's first command.
RUN python3 -m pip install . \
    && rm -rf /src

WORKDIR /home/samizdat
USER 10001
VOLUME ["/data"]

# /readyz answers 200 once the index is loaded, the database answers and every platform is
# connected; the endpoint listens on 127.0.0.1 inside the container unless
# SAMIZDAT_HEALTH__HOST says otherwise (a Prometheus in another container needs 0.0.0.0).
HEALTHCHECK --interval=30s --timeout=5s --start-period=120s --retries=3 \
    CMD ["python3", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/readyz' % os.environ.get('SAMIZDAT_HEALTH__PORT', '8080'), timeout=4)"]

# Tokens come only from the environment (SAMIZDAT_DISCORD__TOKEN, SAMIZDAT_MATRIX__PASSWORD, ...).
CMD ["samizdat", "run", "all"]
