"""Developer tooling: local Kafka and PostgreSQL, the SMTP catcher, `make run` and the `komerbij` CLI."""
