# The API for container deployments (see compose.yaml). No secret is baked in: pass the three
# STRONGROOM_* secrets and DATABASE_URL at run time.
# Built from a wheel, as users install it: the image holds the installed package only, with neither the
# test suite nor the desktop client (a container has no display; `strongroom gui` says it is absent).
FROM python:3.12-slim AS wheel
WORKDIR /src
COPY pyproject.toml README.md ./
COPY api ./api
COPY gui ./gui
COPY sql ./sql
COPY migrations ./migrations
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

FROM python:3.12-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
RUN useradd --system --create-home --shell /usr/sbin/nologin strongroom
COPY --from=wheel /wheels /wheels
RUN pip install --no-cache-dir /wheels/strongroom-*.whl \
    && python -c "import gui, pathlib, shutil; shutil.rmtree(pathlib.Path(gui.__file__).parent)" \
    && rm -rf /wheels
USER strongroom
WORKDIR /home/strongroom
EXPOSE 8000
CMD ["strongroom", "serve", "--host", "0.0.0.0", "--port", "8000"]
