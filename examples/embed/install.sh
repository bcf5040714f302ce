#!/usr/bin/env sh
# Packs every @edca package of an edca checkout into ./tarballs (what `npm publish` would ship)
# and installs them into this folder's own node_modules. Run it after the checkout's own install
# (which builds the packages). EDCA_REPO names the checkout (default: two folders up).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "${EDCA_REPO:-$here/../..}" && pwd)
rm -rf "$here/tarballs"
(cd "$repo" && npx -y pnpm@10.34.8 --silent -r --filter "./packages/*" pack --pack-destination "$here/tarballs" >/dev/null)
cd "$here"
# Not part of the edca workspace: --ignore-workspace; --prefer-offline takes what the checkout's
# install already put in the pnpm store.
npx -y pnpm@10.34.8 install --ignore-workspace --prefer-offline --config.confirmModulesPurge=false
