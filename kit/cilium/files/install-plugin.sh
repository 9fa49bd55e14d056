#!/bin/bash
# The chart's install-cni-binaries init container: put the cilium CNI plugin (and loopback,
# when the node has none) into the host's CNI bin dir, atomically, so the kubelet never runs
# a half-written plugin.
set -eu
bin_dir="${CNI_DIR:-${HOST_PREFIX:-/host}/opt/cni}/bin"
mkdir -p "$bin_dir"
place() {
  cp "$1" "$bin_dir/.$(basename "$1").new"
  mv "$bin_dir/.$(basename "$1").new" "$bin_dir/$(basename "$1")"
  echo "installed $bin_dir/$(basename "$1")"
}
if [ "${OVERWRITE_LOOPBACK:-false}" = true ] || [ ! -e "$bin_dir/loopback" ]; then
  place /cni/loopback || echo "loopback not installed (the node usually has one)"
fi
if [ "${OVERWRITE_CILIUM:-true}" = true ] || [ ! -e "$bin_dir/cilium-cni" ]; then
  place /opt/cni/bin/cilium-cni
fi
