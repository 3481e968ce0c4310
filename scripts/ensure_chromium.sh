#!/usr/bin/env bash
# The leaderboard's browser tests drive Debian's headless Chromium and its driver: install them when missing.
# As root (or with passwordless sudo) this runs apt-get; otherwise it prints the one command to run and fails.
set -euo pipefail
if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then
    exit 0
fi
packages=(chromium chromium-driver)
if [ "$(id -u)" -eq 0 ]; then
    sudo=()
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    sudo=(sudo -n)
else
    echo "the browser tests need Chromium: run 'sudo apt-get install chromium chromium-driver', then rerun" >&2
    exit 1
fi
echo "installing ${packages[*]} (the leaderboard's browser tests need them)" >&2
"${sudo[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
