package yamledit

import (
	"testing"
)

const deployment = `# The reviews service, version 1.
apiVersion: apps/v1
kind: Deployment
metadata:
  name: reviews-v1   # the stable one
  labels:
    app: reviews
    version: v1
spec:
  selector:
    matchLabels: {app: reviews, version: v1}
  template:
    metadata:
      labels:
        app: reviews
        version: "v1"
    spec:
      containers:
        - name: reviews
          image: 'example/reviews:1.0'
          ports:
          - containerPort: 9080
---
apiVersion: v1
kind: Service
metadata:
  name: reviews
`

func TestEdits(t *testing.T) {
	f, err := Parse([]byte(deployment))
	if err != nil {
		t.Fatal(err)
	}
	docs := f.Find("Deployment", "reviews-v1")
	if len(docs) != 1 {
		t.Fatalf("Find: %d documents", len(docs))
	}
	d := docs[0]
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(f.SetScalar(Get(d, "metadata", "name"), "reviews-v2"))
	must(f.SetEntry(Get(d, "metadata", "labels"), "version", "v2"))
	must(f.Replace(Get(d, "spec", "selector", "matchLabels"), map[string]string{"app": "reviews", "version": "v2"}))
	must(f.SetEntry(Get(d, "spec", "template", "metadata", "labels"), "version", "v2"))
	must(f.SetEntry(Get(d, "spec", "template", "metadata", "labels"), "sidecar.istio.io/inject", "true"))
	must(f.SetEntry(Get(d, "spec", "template", "metadata"), "annotations", map[string]string{"sidecar.istio.io/inject": "true"}))
	c := Get(d, "spec", "template", "spec", "containers").Content[0]
	must(f.SetScalar(Get(c, "image"), "example/reviews:2.0"))
	out, err := f.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	want := `# The reviews service, version 1.
apiVersion: apps/v1
kind: Deployment
metadata:
  name: reviews-v2   # the stable one
  labels:
    app: reviews
    version: v2
spec:
  selector:
    matchLabels: {app: reviews, version: v2}
  template:
    metadata:
      labels:
        app: reviews
        version: "v2"
        sidecar.istio.io/inject: "true"
      annotations:
        sidecar.istio.io/inject: "true"
    spec:
      containers:
        - name: reviews
          image: 'example/reviews:2.0'
          ports:
          - containerPort: 9080
---
apiVersion: v1
kind: Service
metadata:
  name: reviews
`
	if string(out) != want {
		t.Errorf("got:\n%s\nwant:\n%s", out, want)
	}
}

const rule = `kind: DestinationRule
metadata:
  name: reviews
spec:
  host: reviews
  subsets:
  # the stable subset
  - name: v1
    labels:
      version: v1
  - name: testers
    labels:
      tier: test
`

func TestSequences(t *testing.T) {
	f, err := Parse([]byte(rule))
	if err != nil {
		t.Fatal(err)
	}
	seq := Get(f.Find("DestinationRule", "reviews")[0], "spec", "subsets")
	if err := f.DeleteItem(seq, 0); err != nil {
		t.Fatal(err)
	}
	if err := f.Append(seq, map[string]any{"name": "v2", "labels": map[string]string{"version": "v2"}}); err != nil {
		t.Fatal(err)
	}
	out, err := f.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	want := `kind: DestinationRule
metadata:
  name: reviews
spec:
  host: reviews
  subsets:
  # the stable subset
  - name: testers
    labels:
      tier: test
  - labels:
      version: v2
    name: v2
`
	if string(out) != want {
		t.Errorf("got:\n%s\nwant:\n%s", out, want)
	}

	k, _ := Parse([]byte("resources:\n  - deployment.yaml\ncomponents:\n  - ../shared\n  - .gitcanary\nimages: []\n"))
	doc := k.docs[0]
	if err := k.DeleteItem(Get(doc, "components"), 1); err != nil {
		t.Fatal(err)
	}
	if out, _ := k.Bytes(); string(out) != "resources:\n  - deployment.yaml\ncomponents:\n  - ../shared\nimages: []\n" {
		t.Errorf("delete last item: %q", out)
	}
}
