// Package e2e runs gitcanary against the real local test bed (see
// e2e/testbed): kube-apiserver with the Istio and Argo CD CRDs, kwok, and
// real Argo CD syncing from a git server on loopback. Its tests skip unless
// GITCANARY_E2E=1 (then a missing test bed fails them); `make test` brings
// the bed up and sets it.
package e2e
