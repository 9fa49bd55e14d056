// Package controllers stands in for sigs.k8s.io/mcs-api/controllers, which the Go module
// proxy refuses. Cilium reads one name from it: the annotation the Multi-Cluster Services
// API (KEP-1645) puts on a ServiceImport to name its derived Service. Only ClusterMesh's
// MCS support uses it; the kit's clusters have no ClusterMesh.
package controllers

// DerivedServiceAnnotation names the derived Service of a ServiceImport (KEP-1645).
const DerivedServiceAnnotation = "multicluster.kubernetes.io/derived-service"
