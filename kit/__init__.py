"""The offline kind kit: kind, Kubernetes, its images and the CNI images built from Go
modules and Debian packages, and a dockerd that can run kind's privileged nodes here.
Test infrastructure (`bash .ci/kit up|down|status`), not part of the installed package."""
