package kube

import (
	"strings"
	"testing"
)

func TestSelectorOf(t *testing.T) {
	labelSelector := Kind{Kind: "Deployment", Selector: ".spec.selector.matchLabels"}
	plainConfigured := Kind{Kind: "DeploymentConfig", Selector: ".spec.selector"}
	obj := func(selector any) map[string]any {
		spec := map[string]any{}
		if selector != nil {
			spec["selector"] = selector
		}
		return map[string]any{"spec": spec}
	}
	tests := []struct {
		name    string
		kind    Kind
		obj     map[string]any
		want    string
		wantErr string
	}{
		{"LabelSelector, default path", labelSelector, obj(map[string]any{"matchLabels": map[string]any{"app": "x"}}), ".spec.selector.matchLabels", ""},
		{"plain map, default path (a DeploymentConfig configured without a selector path)", labelSelector, obj(map[string]any{"app": "x"}), ".spec.selector", ""},
		{"plain map, configured", plainConfigured, obj(map[string]any{"app": "x"}), ".spec.selector", ""},
		{"LabelSelector behind a path naming the selector", plainConfigured, obj(map[string]any{"matchLabels": map[string]any{"app": "x"}}), ".spec.selector.matchLabels", ""},
		{"expressions only", labelSelector, obj(map[string]any{"matchExpressions": []any{}}), ".spec.selector.matchLabels", ""},
		{"no selector kind", Kind{Kind: "WorkloadGroup"}, obj(nil), "", ""},
		{"missing", labelSelector, obj(nil), "", "not found"},
		{"not a label map", plainConfigured, obj(map[string]any{"app": int64(1)}), "", `key "app"`},
		{"not a map", labelSelector, obj("app=x"), "", "runs through .spec.selector"},
		{"plain path, not a map", plainConfigured, obj("app=x"), "", "want a map of strings"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.kind.SelectorOf(tt.obj)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("SelectorOf = %q, %v; want an error with %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("SelectorOf = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}
