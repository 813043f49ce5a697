#!/usr/bin/env bash
# Install the rig's OpenID provider (oidc-provider, pinned in package-lock.json) into this folder
# when missing or out of date, then run it in the foreground on loopback (see provider.mjs for the
# environment it reads). Needs Node.js 20+ and npm. Install output goes to stderr; the provider
# prints "issuer <url>" on stdout once it listens.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$HERE"
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    echo "oidc rig: node and npm are needed (apt-get install -y nodejs npm)" >&2
    exit 3
fi
bash "$HERE/install.sh" >&2
exec node provider.mjs
