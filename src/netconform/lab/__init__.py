"""The local multi-host lab: network namespaces, one dockerd per host, an offline probe image.

Modules: state (recorded on disk before anything is made, validated before it is trusted),
lock (one run per lab), owner (whose lab it is: alive, or provably dead), addressing, netns
(pyroute2), cgroups (process tracking for teardown), daemons (containerd + dockerd per host),
image (offline build with mmdebstrap), kernel (feature detection), lab (up / down / status).
"""
