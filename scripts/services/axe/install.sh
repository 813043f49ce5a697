#!/usr/bin/env bash
# Install axe-core (pinned in package-lock.json) into this folder unless node_modules already
# matches the lock file; prints the path of axe.min.js, which the browser tests inject into each
# page through Playwright. Needs npm (apt-get install -y nodejs npm). Idempotent.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$HERE"
script="$HERE/node_modules/axe-core/axe.min.js"
stamp=node_modules/.camnet-lock.sha256
want="$(sha256sum package-lock.json | cut -d' ' -f1)"
if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" || ! -f "$script" ]]; then
    if ! command -v npm >/dev/null 2>&1; then
        echo "axe rig: npm is needed (apt-get install -y nodejs npm)" >&2
        exit 3
    fi
    # (a lock held while installing: two test runs starting at once must not interleave npm ci)
    exec 9>"$HERE/.install.lock"
    flock 9
    if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" || ! -f "$script" ]]; then
        npm ci --no-audit --no-fund --loglevel=error >&2
        echo "$want" >"$stamp"
    fi
fi
echo "$script"
