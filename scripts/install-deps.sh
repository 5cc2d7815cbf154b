#!/usr/bin/env bash
# Installs what building and testing airgap need on a fresh Debian machine: the Debian tools the
# tests run for real (containerd, docker-registry, skopeo, umoci, squashfs-tools, openssl,
# iproute2, nftables, apache2-utils for htpasswd, squid for the proxy tests, unzip for the helm the
# workloads tests take from an npm package), pnpm, and the npm
# packages from the lock file.
set -euo pipefail
cd "$(dirname "$0")/.."

declare -A pkg_for=(
  [mksquashfs]=squashfs-tools [unsquashfs]=squashfs-tools [openssl]=openssl [containerd]=containerd
  [ctr]=containerd [docker-registry]=docker-registry [skopeo]=skopeo [umoci]=umoci [ip]=iproute2
  [htpasswd]=apache2-utils [tar]=tar [sha256sum]=coreutils [/usr/bin/time]=time [ansible-playbook]=ansible-core
  [nft]=nftables [squid]=squid [zstd]=zstd [unzip]=unzip
)
missing=()
for cmd in "${!pkg_for[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || missing+=("${pkg_for[$cmd]}")
done
if [ "${#missing[@]}" -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "installing Debian packages: $(printf '%s\n' "${missing[@]}" | sort -u | tr '\n' ' ')"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq $(printf '%s\n' "${missing[@]}" | sort -u) >/dev/null
fi

if ! command -v pnpm >/dev/null 2>&1; then
  npm install -g pnpm@12.4.2 >/dev/null
fi
pnpm install --frozen-lockfile
