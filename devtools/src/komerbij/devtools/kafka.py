"""An Apache Kafka broker (KRaft, combined broker + controller) from Maven Central jars.

`deploy/kafka/pom.xml` names the version; Maven copies the jars to ~/.cache/komerbij/kafka-<version> once, so later
starts only pay for the JVM. Storage is formatted with `kafka.tools.StorageTool` the first time a data dir is used.
"""

from __future__ import annotations

import base64
import os
import re
import shutil
import signal
import subprocess
import uuid
from pathlib import Path

from komerbij.devtools.processes import die_with_parent, port_open, repo_root, stop_process, wait_until

_LOG4J2 = """\
status = warn
appender.file.type = File
appender.file.name = file
appender.file.fileName = {log}
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = info
rootLogger.appenderRef.file.ref = file
logger.kafka.name = kafka
logger.kafka.level = info
logger.state.name = state.change.logger
logger.state.level = warn
"""


def kafka_version() -> str:
    pom = (repo_root() / "deploy" / "kafka" / "pom.xml").read_text()
    match = re.search(r"<kafka.version>([^<]+)</kafka.version>", pom)
    if not match:
        raise RuntimeError("deploy/kafka/pom.xml names no kafka.version")
    return match.group(1)


def jar_cache() -> Path:
    base = Path(os.environ.get("KOMERBIJ_CACHE", Path.home() / ".cache" / "komerbij"))
    return base / f"kafka-{kafka_version()}"


def ensure_jars() -> Path:
    """Fetch the broker's jars with Maven unless they are cached already."""
    target = jar_cache()
    if (target / ".complete").exists():
        return target
    if shutil.which("mvn") is None:
        raise RuntimeError("Maven (mvn) is missing: install it, e.g. `apt-get install maven`")
    target.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["mvn", "-q", "-B", "-f", str(repo_root() / "deploy" / "kafka" / "pom.xml"),
         "dependency:copy-dependencies", f"-DoutputDirectory={target}", "-DincludeScope=runtime"],
        check=True,
    )
    (target / ".complete").write_text(kafka_version())
    return target


class KafkaServer:
    def __init__(self, data_dir: Path, *, port: int, controller_port: int, heap: str = "512m") -> None:
        self.data_dir = data_dir
        self.port = port
        self.controller_port = controller_port
        self.heap = heap
        self.proc: subprocess.Popen[bytes] | None = None
        self._log_offset = 0

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _write_config(self) -> Path:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        logs = self.data_dir / "logs"
        props = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.bootstrap.servers": f"127.0.0.1:{self.controller_port}",
            "listeners": f"PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{self.port}",
            "controller.listener.names": "CONTROLLER",
            "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            "log.dirs": str(self.data_dir / "kraft"),
            "offsets.topic.replication.factor": "1",
            "offsets.topic.num.partitions": "3",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            "group.initial.rebalance.delay.ms": "0",
            "auto.create.topics.enable": "false",
            "num.partitions": "1",
        }
        config = self.data_dir / "server.properties"
        config.write_text("".join(f"{k}={v}\n" for k, v in props.items()))
        (self.data_dir / "log4j2.properties").write_text(_LOG4J2.format(log=logs / "server.log"))
        return config

    def _java(self, jars: Path, *args: str) -> list[str]:
        java = shutil.which("java")
        if java is None:
            raise RuntimeError("Java is missing: install OpenJDK 17, e.g. `apt-get install openjdk-17-jre-headless`")
        return [
            java, f"-Xms{self.heap}", f"-Xmx{self.heap}", "-XX:+UseG1GC", "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={self.data_dir / 'log4j2.properties'}",
            f"-Dkafka.logs.dir={self.data_dir / 'logs'}",
            "-cp", f"{jars}/*", *args,
        ]

    def start(self, *, timeout: float = 90.0) -> None:
        jars = ensure_jars()
        config = self._write_config()
        if not (self.data_dir / "kraft" / "meta.properties").exists():
            cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
            subprocess.run(
                self._java(jars, "kafka.tools.StorageTool", "format", f"--cluster-id={cluster_id}", "-c", str(config),
                           "--standalone"),
                check=True, stdout=subprocess.DEVNULL,
            )
        log = self.data_dir / "logs" / "server.log"
        self._log_offset = log.stat().st_size if log.exists() else 0
        out = open(self.data_dir / "logs" / "stdout.log", "ab")  # noqa: SIM115 - lives as long as the process
        self.proc = subprocess.Popen(
            self._java(jars, "kafka.Kafka", str(config)), stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True, preexec_fn=die_with_parent,
        )
        wait_until(lambda: self._ready(), timeout=timeout, what=f"Kafka on port {self.port}")

    def _ready(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise RuntimeError(f"Kafka exited with {self.proc.returncode}; see {self.data_dir / 'logs'}")
        if not port_open(self.port):
            return False
        log = self.data_dir / "logs" / "server.log"
        if not log.exists():
            return False
        with log.open("rb") as f:
            f.seek(self._log_offset)
            return b"Kafka Server started" in f.read()

    def stop(self, *, timeout: float = 30.0) -> None:
        if self.proc is not None:
            stop_process(self.proc, timeout=timeout)
            self.proc = None

    def kill(self) -> None:
        if self.proc is not None:
            stop_process(self.proc, sig=signal.SIGKILL, timeout=10)
            self.proc = None
