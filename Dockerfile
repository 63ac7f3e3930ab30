# The API for container deployments (see compose.yaml). No secret is baked in: pass the three
# STRONGROOM_* secrets and DATABASE_URL at run time.
FROM python:3.12-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
RUN useradd --system --create-home --shell /usr/sbin/nologin strongroom
WORKDIR /app
COPY pyproject.toml README.md ./
COPY api ./api
COPY gui ./gui
COPY tests ./tests
COPY sql ./sql
COPY migrations ./migrations
RUN pip install --no-cache-dir -e .
USER strongroom
EXPOSE 8000
CMD ["strongroom", "serve", "--host", "0.0.0.0", "--port", "8000"]
