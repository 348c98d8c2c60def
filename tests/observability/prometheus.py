"""A real Prometheus (Debian's package) beside a test's platform, configured the way `make observe` does it.

The scrape targets and rule files come from deploy/tools/observe.py's
`configuration()`, called as `make observe` calls it; only the clock is made
faster: scrapes every 2 s, rules evaluated every second, and the rules
loaded with their windows scaled down (tests/observability/rules.py).
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
import yaml

from tests.deploy.manifests import REPO
from tests.observability.rules import rules, write_scaled
from tests.platform.harness import free_port_block

NEED_PACKAGE = REPO / "deploy" / "tools" / "need_package.sh"
SCRAPE_INTERVAL = "2s"
EVALUATION_INTERVAL = "1s"


def _observe() -> ModuleType:
    """deploy/tools/observe.py, which is a script and not a package."""
    spec = importlib.util.spec_from_file_location("titanium_observe", REPO / "deploy" / "tools" / "observe.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def installed_prometheus() -> str:
    """Debian's prometheus, installed the way `make observe` does when it is missing (as root); never skipped."""
    if shutil.which("prometheus") is None:
        subprocess.run(["sh", str(NEED_PACKAGE), "prometheus", "prometheus", "tests/observability"], check=False)
    path = shutil.which("prometheus")
    if path is None:
        pytest.fail("prometheus is missing and could not be installed: sudo apt-get install prometheus "
                    "(Debian, Ubuntu), then run tests/observability again", pytrace=False)
    return path


class Prometheus:
    def __init__(self, directory: Path, platform_base_port: int, window_factor: float) -> None:
        self.directory = directory
        self.port = free_port_block(1)
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = directory / "prometheus.log"
        self.config = _observe().configuration(platform_base_port, "127.0.0.1")
        self.real_rule_files: list[str] = list(self.config["rule_files"])
        self.config["global"] = {**self.config["global"], "scrape_interval": SCRAPE_INTERVAL,
                                 "scrape_timeout": SCRAPE_INTERVAL, "evaluation_interval": EVALUATION_INTERVAL}
        self.config["rule_files"] = write_scaled(self.real_rule_files, window_factor, directory / "rules")
        self.process: subprocess.Popen[bytes] | None = None
        self.http = httpx.Client(base_url=self.url, timeout=10)

    @property
    def targets(self) -> int:
        return sum(len(group["targets"]) for job in self.config["scrape_configs"] for group in job["static_configs"])

    def start(self, timeout: float = 60.0) -> Prometheus:
        self.directory.mkdir(parents=True, exist_ok=True)
        config_path = self.directory / "prometheus.yml"
        config_path.write_text(yaml.safe_dump(self.config, sort_keys=False))
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                [installed_prometheus(), f"--config.file={config_path}", f"--storage.tsdb.path={self.directory / 'tsdb'}",
                 f"--web.listen-address=127.0.0.1:{self.port}", "--storage.tsdb.retention.time=1h"],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"prometheus exited with {self.process.returncode}:\n{self.log()}")
            try:
                if self.http.get("/-/ready").status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"prometheus did not get ready in {timeout}s:\n{self.log()}")

    def log(self, last_lines: int = 40) -> str:
        lines = self.log_path.read_text(errors="replace").splitlines() if self.log_path.exists() else []
        return "\n".join(lines[-last_lines:])

    def stop(self) -> None:
        self.http.close()
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def _api(self, path: str, **params: str) -> Any:
        answer = self.http.get(f"/api/v1/{path}", params=params)
        body = answer.json()
        if body.get("status") != "success":
            raise AssertionError(f"Prometheus refused /api/v1/{path} {params}: {body.get('errorType')}: {body.get('error')}")
        return body["data"]

    def query(self, expr: str) -> list[tuple[dict[str, str], float]]:
        """The instant vector (labels, value) of `expr` now; a scalar comes back as one sample without labels."""
        data = self._api("query", query=expr)
        if data["resultType"] == "scalar":
            return [({}, float(data["result"][1]))]
        return [(sample["metric"], float(sample["value"][1])) for sample in data["result"]]

    def alerts(self) -> list[dict[str, Any]]:
        """The alerts pending or firing now, each with its labels and state."""
        return self._api("alerts")["alerts"]

    def loaded_rules(self) -> list[dict[str, Any]]:
        return [rule for group in self._api("rules")["groups"] for rule in group["rules"]]

    def healthy_targets(self) -> int:
        return sum(1 for target in self._api("targets")["activeTargets"] if target["health"] == "up")

    def expected_rule_count(self) -> int:
        return len(rules(self.real_rule_files))

