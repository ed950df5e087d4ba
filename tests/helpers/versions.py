"""The two Prometheus/Alertmanager versions every binary test runs on.

Debian 12's own packages (Prometheus 2.42, promtool 2.42, Alertmanager 0.25) are on PATH;
the current ones (Prometheus 3.5 LTS, Alertmanager 0.33) are unpacked from Debian's newer
suite into .cache/debs/root by scripts/fetch-current-prometheus.py (make test runs it).
A test module opts in with ``pytestmark = pytest.mark.usefixtures("prometheus_versions")``;
the fixture then puts the set's directory first on PATH, so ``find_binary``,
``sre.clients.promtool`` and every subprocess find that version.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CURRENT_BIN = REPO / ".cache" / "debs" / "root" / "usr" / "bin"


@dataclass(frozen=True)
class BinarySet:
    id: str
    prometheus: str  # major.minor, for tests whose expectations changed between versions
    alertmanager: str
    bin_dir: Path | None  # None: Debian's installed packages on PATH

    @property
    def prometheus_major(self) -> int:
        return int(self.prometheus.split(".")[0])


DEBIAN12 = BinarySet("prom2.42-am0.25", "2.42", "0.25", None)
CURRENT = BinarySet("prom3.5-am0.33", "3.5", "0.33", CURRENT_BIN)
SETS = (DEBIAN12, CURRENT)


def missing_current() -> str | None:
    tools = ("prometheus", "promtool", "prometheus-alertmanager", "amtool")
    absent = [t for t in tools if not (CURRENT_BIN / t).is_file()]
    if absent:
        return (
            f"{', '.join(absent)} 3.5/0.33 not found in {CURRENT_BIN}: run "
            "scripts/fetch-current-prometheus.py (make test does)"
        )
    return None
