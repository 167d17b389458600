FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PYTHONPATH=/app \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN useradd --create-home --uid 1000 tend
WORKDIR /app

# Dependencies first, so code changes don't reinstall them.
COPY pyproject.toml README.md ./
RUN pip install .

COPY . .

# collectstatic imports the settings, which insist on production values with
# DEBUG off. These throwaway values exist only for this one command; the real
# ones come from the environment at run time.
RUN DEBUG=false \
    SECRET_KEY=build-time-only-not-a-secret \
    ALLOWED_HOSTS=build.invalid \
    SITE_URL=https://build.invalid \
    SMTP_HOST=build.invalid \
    python manage.py collectstatic --noinput

USER tend
EXPOSE 8000
CMD ["uvicorn", "config.asgi:application", "--host=0.0.0.0", "--port=8000", "--workers=3", "--no-proxy-headers", "--timeout-graceful-shutdown=5", "--lifespan=off"]
