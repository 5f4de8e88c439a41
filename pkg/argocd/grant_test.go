package argocd_test

import (
	"context"
	"errors"
	"testing"

	"github.com/argoproj/argo-cd/v2/pkg/apis/application/v1alpha1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gitcanary/gitcanary/pkg/argocd"
	"github.com/gitcanary/gitcanary/pkg/argocd/argocdtest"
)

func TestGranted(t *testing.T) {
	tests := []struct {
		grant   *string
		wantErr string
	}{
		{grant: ptr("gitcanary")},
		{grant: ptr("other, gitcanary")},
		{grant: nil, wantErr: `Application reviews: add the annotation gitcanary.io/grant: gitcanary to let gitcanary instance "gitcanary" sync it (it has none): the Application does not grant gitcanary its syncs`},
		{grant: ptr("gitcanary-staging"), wantErr: `Application reviews: add the annotation gitcanary.io/grant: gitcanary to let gitcanary instance "gitcanary" sync it (it has "gitcanary-staging"): the Application does not grant gitcanary its syncs`},
	}
	for _, tt := range tests {
		fake := argocdtest.New()
		app := &v1alpha1.Application{ObjectMeta: metav1.ObjectMeta{Name: "reviews", Namespace: "argocd"}}
		if tt.grant != nil {
			app.Annotations = map[string]string{argocd.GrantAnnotation: *tt.grant}
		}
		fake.SetApp(app)
		err := argocd.Granted(fake, argocd.DefaultInstance).Sync(context.Background(), "reviews", "abc123", false)
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("grant %v: %v", *tt.grant, err)
		case tt.wantErr == "" && len(fake.Syncs()) != 1:
			t.Errorf("grant %v: %d syncs, want 1", *tt.grant, len(fake.Syncs()))
		case tt.wantErr != "" && (err == nil || err.Error() != tt.wantErr || !errors.Is(err, argocd.ErrNotAuthorized)):
			t.Errorf("err = %v\nwant %s", err, tt.wantErr)
		case tt.wantErr != "" && len(fake.Syncs()) != 0:
			t.Errorf("refused, yet %d syncs", len(fake.Syncs()))
		}
	}
}

func ptr(s string) *string { return &s }
