#!/usr/bin/env bash
# Install the Debian packages the test suite needs, only those that are missing.
# Fast no-op (well under a second) when everything is already present.
set -euo pipefail
# shellcheck source=common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

export DEBIAN_FRONTEND=noninteractive

missing=()

have_pkg() {
    [[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)" == "install ok installed" ]]
}
want_pkg() { have_pkg "$1" || missing+=("$1"); }

command -v redis-server >/dev/null 2>&1 && command -v redis-cli >/dev/null 2>&1 \
    || missing+=(redis-server)

# PostgreSQL: only when there is neither a local server nor the binaries to start one.
pg_bins=0
if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
    pg_bins=1
elif compgen -G '/usr/lib/postgresql/*/bin/pg_ctl' >/dev/null; then
    pg_bins=1
fi
if ((pg_bins == 0)) && ! port_open "${PGPORT:-5432}"; then
    missing+=(postgresql)
fi

# GStreamer RTSP server for camsim.rtsp_server (system python3 + gi).
for p in python3-gi gir1.2-gst-rtsp-server-1.0 gir1.2-gstreamer-1.0 \
         gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-ugly \
         fonts-dejavu-core; do
    want_pkg "$p"
done
command -v ffmpeg >/dev/null 2>&1 || missing+=(ffmpeg)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
# Go toolchain and x/mod (sumdb/note, sumdb/tlog) for the transparency-log interoperability test.
for p in golang-go golang-golang-x-mod-dev; do want_pkg "$p"; done

if ((${#missing[@]} == 0)); then
    exit 0
fi

log "installing: ${missing[*]}"
if [[ $(id -u) -ne 0 ]]; then
    SUDO=(sudo -n)
else
    SUDO=()
fi
"${SUDO[@]}" apt-get update -qq >&2
"${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
log "installed: ${missing[*]}"
