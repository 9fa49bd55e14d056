#!/bin/bash
# The agent's preStop hook: when the ConfigMap enables cni-uninstall, remove Cilium's own CNI
# configuration so no pod is scheduled onto a node whose agent is gone.
set -eu
conf_dir="${CNI_CONF_DIR:-${HOST_PREFIX:-/host}/etc/cni/net.d}"
if [ "$(cat /tmp/cilium/config-map/cni-uninstall 2>/dev/null || true)" != true ]; then
  echo "cni-uninstall is off: CNI configuration kept"
  exit 0
fi
if [ "${CILIUM_CUSTOM_CNI_CONF:-false}" != true ]; then
  find "$conf_dir" -maxdepth 1 -type f -name '*cilium*' \( -name '*.conf' -o -name '*.conflist' \) -delete
fi
