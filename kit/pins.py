"""Every version the kit builds, in one place. Changing one pin rebuilds only what depends on
it (each component's cache key hashes its own pins and recipe files)."""

from __future__ import annotations

KUBERNETES = "v1.36.1"  # the version fixtures/kind/*.yaml pin
KIND = "v0.32.0"
ETCD = "v3.6.8"  # kubeadm v1.36 constants.DefaultEtcdVersion 3.6.8-0
COREDNS = "v1.14.2"  # kubeadm v1.36 constants.CoreDNSVersion
PAUSE = "3.10.2"  # kubeadm v1.36 constants.PauseVersion
CRI_TOOLS = "v1.34.0"  # the newest crictl the module proxy serves before v1.37
CNI_PLUGINS = "v1.9.1"
FLANNEL = "v0.28.9"  # the image tag of shared/cni/flannel/kube-flannel-v0.28.9.yml
FLANNEL_CNI_IMAGE_TAG = "v1.9.1-flannel3"  # the manifest's install-cni-plugin image tag
# github.com/flannel-io/cni-plugin is refused by the module proxy; the same `flannel` CNI
# plugin (read subnet.env, delegate to bridge) lived in containernetworking/plugins until v1.0.
FLANNEL_CNI_MODULE = "v0.9.1"

SUITE = "bookworm"  # Debian suite of every rootfs (the host's apt sources serve it)

REGISTRY_K8S = "registry.k8s.io"
NODE_IMAGE = f"netconform.local/kind-node:{KUBERNETES}"

# Cilium: the chart and images of shared/cni/cilium/v1.20.0 (source commit 450c5314)
CILIUM = "v1.20.0"
# Calico is not built (its modules are refused): the tags of the images the kit looks for
CALICO = "v3.32.1"
TIGERA_OPERATOR = "v1.42.3"
CILIUM_BUILD = "450c5314 2026-07-29T13:02:52Z"  # the short commit and date its version names
# SIG Network's policy API: the ClusterNetworkPolicy CRD kind-cilium-cnp applies (a data file
# of the module, downloaded as a module, never built)
NETWORK_POLICY_API = "v0.3.1"
HELM = "v3.19.2"  # installs the Cilium chart (the newest v3.19 patch the module proxy serves)
LLVM = "19"  # Cilium builds its datapath with LLVM 19.1.7, bookworm's clang-19
