# The `komerbij` CLI as an image: docker compose runs `komerbij topics ensure` with it before the services start.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
COPY contracts /src/contracts
COPY runtime /src/runtime
COPY deploy/kafka /src/deploy/kafka
COPY devtools /src/devtools
RUN pip install --no-cache-dir /src/contracts /src/runtime /src/devtools
USER nobody
ENTRYPOINT ["komerbij"]
