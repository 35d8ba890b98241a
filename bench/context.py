"""What every scenario gets: the infrastructure, the options, and where to put logs and profiles."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from support.infra import Infra


@dataclass
class Context:
    infra: Infra
    opts: argparse.Namespace
    log_dir: Path

    @property
    def quick(self) -> bool:
        return bool(self.opts.quick)
