#!/usr/bin/env bash
# Installs the system packages omnitensor's tests need on Debian 12 (run as root):
#   - Mesa lavapipe >= 24 from bookworm-backports (Dawn rejects bookworm's Mesa 22),
#   - Debian's chromium for the browser tests.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
if ! grep -rqs bookworm-backports /etc/apt/sources.list /etc/apt/sources.list.d/; then
  cat > /etc/apt/sources.list.d/backports.sources <<'SRC'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
fi
apt-get update -qq
apt-get install -y -qq -t bookworm-backports mesa-vulkan-drivers >/dev/null
apt-get install -y -qq libvulkan1 chromium >/dev/null
