"""The PrometheusServer that `make run` and the e2e test use: it reports a broken start and leaves nothing behind."""

from __future__ import annotations

from pathlib import Path

import pytest

from komerbij.devtools.processes import free_port, port_open
from komerbij.devtools.prometheus import PrometheusServer, scrape_config, write_config


def test_a_broken_configuration_fails_the_start_in_prometheus_own_words(tmp_path: Path,
                                                                         prometheus_binary: Path) -> None:
    config = tmp_path / "prometheus.yml"
    config.write_text("scrape_configs:\n  - job_name: registration\n    scrape_interval: soon\n")
    server = PrometheusServer(config, data_dir=tmp_path / "data", port=free_port())
    with pytest.raises(RuntimeError, match="Prometheus exited") as failure:
        server.start(timeout=30)
    assert "soon" in str(failure.value)
    server.stop()


def test_the_server_answers_queries_and_is_gone_after_stop(tmp_path: Path, prometheus_binary: Path) -> None:
    port = free_port()
    config = write_config(tmp_path / "prometheus.yml", scrape_config({"registration": ["127.0.0.1:1"]}))
    with PrometheusServer(config, data_dir=tmp_path / "data", port=port) as server:
        assert server.query("vector(42)")[0]["value"][1] == "42"
        assert "job_name: registration" in server.api("status/config")["yaml"]
        process = server.proc
        assert process is not None
    assert process.poll() is not None
    assert not port_open(port)
