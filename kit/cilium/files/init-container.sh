#!/bin/sh
# The chart's clean-cilium-state init container: wipe the agent's state only when the
# cilium-config ConfigMap asks for it (the CLEAN_* names are the older spellings).
set -e
if [ "${CILIUM_BPF_STATE:-}" = true ] || [ "${CLEAN_CILIUM_BPF_STATE:-}" = true ]; then
  cilium-dbg post-uninstall-cleanup -f --bpf-state
fi
if [ "${CILIUM_ALL_STATE:-}" = true ] || [ "${CLEAN_CILIUM_STATE:-}" = true ]; then
  cilium-dbg post-uninstall-cleanup -f --all-state
fi
