#!/usr/bin/env python3
"""Fetch current Prometheus (3.5 LTS, with promtool) and Alertmanager (0.33) from Debian's
newer suite, without installing anything system-wide.

Debian 12 ships Prometheus 2.42 and Alertmanager 0.25; the tests run on both those and the
current ones. This script builds a private apt configuration from the machine's own Debian
sources (the archive URI and keyring it already trusts, with the suite changed), runs
``apt-get update`` and ``apt-get download`` with it, and unpacks the .debs with
``dpkg-deb -x`` into ``.cache/debs/root``. No host name is written here: it comes from
/etc/apt/sources.list(.d).

Usage: scripts/fetch-current-prometheus.py [--cache .cache/debs] [--suites forky,sid]
Exit 0 when the binaries are in place (at once if a previous run left them), 1 with a
reason otherwise. Plain python3, no dependencies: make test runs it before the venv exists.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# package -> the upstream series we want (the newest Debian revision of it is taken).
WANTED = {"prometheus": "3.5.", "promtool": "3.5.", "prometheus-alertmanager": "0.33."}
BINARIES = ("usr/bin/prometheus", "usr/bin/promtool", "usr/bin/prometheus-alertmanager")
STAMP = "versions.json"


def deb822_entries(text: str) -> list[dict[str, str]]:
    entries, current = [], {}
    for line in text.splitlines() + [""]:
        if line.startswith("#"):
            continue
        if not line.strip():
            if current:
                entries.append(current)
            current = {}
            continue
        key, _, value = line.partition(":")
        if line[:1].isspace() and current:  # continuation line
            continue
        current[key.strip().lower()] = value.strip()
    return entries


def one_line_entries(text: str) -> list[dict[str, str]]:
    entries = []
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line.startswith("deb "):
            continue
        options = ""
        rest = line[4:].strip()
        if rest.startswith("["):
            options, _, rest = rest[1:].partition("]")
        parts = rest.split()
        if len(parts) < 3:
            continue
        entry = {"types": "deb", "uris": parts[0], "suites": parts[1]}
        entry["components"] = " ".join(parts[2:])
        match = re.search(r"signed-by=(\S+)", options)
        if match:
            entry["signed-by"] = match.group(1)
        entries.append(entry)
    return entries


def debian_archive(codename: str) -> tuple[str, str]:
    """(URI, keyring) of the machine's main Debian archive: the entry for ``codename``."""
    found: list[dict[str, str]] = []
    apt = Path("/etc/apt")
    if (apt / "sources.list").is_file():
        found += one_line_entries((apt / "sources.list").read_text())
    for path in sorted((apt / "sources.list.d").glob("*")):
        if path.suffix == ".sources":
            found += deb822_entries(path.read_text())
        elif path.suffix == ".list":
            found += one_line_entries(path.read_text())
    for entry in found:
        if entry.get("enabled", "yes").lower() == "no" or "deb" not in entry.get("types", ""):
            continue
        if codename in entry.get("suites", "").split():
            keyring = entry.get("signed-by", "/usr/share/keyrings/debian-archive-keyring.gpg")
            return entry["uris"].split()[0], keyring
    raise SystemExit(
        f"error: no apt source for the Debian suite {codename!r} in /etc/apt/sources.list(.d); "
        "cannot derive where Debian's newer suite is"
    )


def codename() -> str:
    for line in Path("/etc/os-release").read_text().splitlines():
        if line.startswith("VERSION_CODENAME="):
            return line.split("=", 1)[1].strip('"')
    raise SystemExit("error: /etc/os-release names no VERSION_CODENAME (not Debian?)")


def apt(conf: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "APT_CONFIG": str(conf), "LC_ALL": "C"}
    return subprocess.run(
        ["apt-get", "-o", "APT::Sandbox::User=root", *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def newest(conf: Path, package: str, prefix: str) -> str | None:
    env = {**os.environ, "APT_CONFIG": str(conf), "LC_ALL": "C"}
    out = subprocess.run(
        ["apt-cache", "madison", package], env=env, capture_output=True, text=True, check=False
    ).stdout
    versions = {line.split("|")[1].strip() for line in out.splitlines() if "|" in line}
    matching = [v for v in versions if v.split(":")[-1].startswith(prefix)]
    if not matching:
        return None
    key = subprocess.run(  # dpkg orders Debian versions; sort with it
        ["sort", "-V"], input="\n".join(matching), capture_output=True, text=True, check=True
    ).stdout.split()
    return key[-1]


def private_config(work: Path, uri: str, keyring: str, suites: list[str]) -> Path:
    for sub in ("lists/partial", "archives/partial", "sources", "preferences"):
        (work / sub).mkdir(parents=True, exist_ok=True)
    (work / "status").touch()
    (work / "sources" / "newer.sources").write_text(
        f"Types: deb\nURIs: {uri}\nSuites: {' '.join(suites)}\nComponents: main\n"
        f"Signed-By: {keyring}\n"
    )
    conf = work / "apt.conf"
    conf.write_text(
        "\n".join(
            [
                f'Dir::State "{work}";',
                f'Dir::State::Lists "{work}/lists";',
                f'Dir::State::status "{work}/status";',
                f'Dir::Cache "{work}";',
                f'Dir::Cache::Archives "{work}/archives";',
                'Dir::Etc::SourceList "/dev/null";',
                f'Dir::Etc::SourceParts "{work}/sources";',
                'Dir::Etc::Preferences "/dev/null";',
                f'Dir::Etc::PreferencesParts "{work}/preferences";',
                'APT::Get::List-Cleanup "false";',
                "",
            ]
        )
    )
    return conf


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cache", default=str(ROOT / ".cache" / "debs"))
    parser.add_argument("--suites", default="forky,sid", help="suites to look in, in order")
    args = parser.parse_args()
    cache = Path(args.cache).resolve()
    root = cache / "root"
    stamp = cache / STAMP
    if stamp.is_file() and all((root / b).is_file() for b in BINARIES):
        return 0
    for tool in ("apt-get", "apt-cache", "dpkg-deb"):
        if shutil.which(tool) is None:
            print(f"error: {tool} not found: this needs a Debian machine", file=sys.stderr)
            return 1
    uri, keyring = debian_archive(codename())
    work = cache / "apt"
    conf = private_config(work, uri, keyring, args.suites.split(","))
    print(f"fetching Prometheus 3.5 and Alertmanager 0.33 .debs into {cache}", flush=True)
    update = apt(conf, "-q", "update")
    if update.returncode != 0:
        print(f"error: apt-get update failed:\n{update.stderr.strip()}", file=sys.stderr)
        return 1
    chosen = {}
    for package, prefix in WANTED.items():
        version = newest(conf, package, prefix)
        if version is None:
            print(f"error: no {package} {prefix}x in suites {args.suites}", file=sys.stderr)
            return 1
        chosen[package] = version
    debs = cache / "download"
    shutil.rmtree(debs, ignore_errors=True)
    debs.mkdir(parents=True)
    specs = [f"{p}={v}" for p, v in chosen.items()]
    env = {**os.environ, "APT_CONFIG": str(conf), "LC_ALL": "C"}
    got = subprocess.run(
        ["apt-get", "-o", "APT::Sandbox::User=root", "-q", "download", *specs],
        cwd=debs,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if got.returncode != 0:
        print(f"error: apt-get download failed:\n{got.stderr.strip()}", file=sys.stderr)
        return 1
    shutil.rmtree(root, ignore_errors=True)
    for deb in sorted(debs.glob("*.deb")):
        subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
    shutil.rmtree(debs)  # unpacked; the .debs themselves are not needed again
    missing = [b for b in BINARIES if not (root / b).is_file()]
    if missing:
        print(f"error: the .debs did not contain {missing}", file=sys.stderr)
        return 1
    stamp.write_text(json.dumps(chosen, indent=2, sort_keys=True) + "\n")
    print("unpacked: " + ", ".join(f"{p} {v}" for p, v in sorted(chosen.items())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
