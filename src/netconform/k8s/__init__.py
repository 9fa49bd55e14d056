"""Kubernetes platforms: kind clusters with a pinned CNI, or a cluster the user has.

Library first: `profiles` (pinned data from fixtures/), `tools` and `kindcluster` (the
executables from PATH), `download` and `patches` (verified, patched CNI manifests),
`install` (ordered install and wait steps), `workloads` (every object a run creates),
`plan` (all of it rendered to a directory), `kube` (the API client, exec probing).
"""
