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
		{grant: ptr("gitcanary-staging"), wantErr: `Application reviews: add the annotation gitcanary.io/grant: gitcanary-staging,gitcanary to let gitcanary instance "gitcanary" sync it (it has "gitcanary-staging"): the Application does not grant gitcanary its syncs`},
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

// TestGrantNamespaces: a Release resource's namespace must be named in
// the Application's release-namespaces annotation (or "*"); the refusal
// names the annotation to add, keeping what it grants already.
func TestGrantNamespaces(t *testing.T) {
	tests := []struct {
		name       string
		namespaces *string
		ns         string
		wantErr    string
	}{
		{name: "no namespace: a Release file or the CLI", ns: ""},
		{name: "named", namespaces: ptr("team-a"), ns: "team-a"},
		{name: "one of several", namespaces: ptr("team-b, team-a"), ns: "team-a"},
		{name: "any", namespaces: ptr("*"), ns: "team-a"},
		{name: "none", ns: "team-a",
			wantErr: `Application reviews: add the annotation gitcanary.io/release-namespaces: team-a to let Release resources in namespace "team-a" drive it (it has none): the Application does not grant gitcanary its syncs`},
		{name: "another", namespaces: ptr("team-b"), ns: "team-a",
			wantErr: `Application reviews: add the annotation gitcanary.io/release-namespaces: team-b,team-a to let Release resources in namespace "team-a" drive it (it has "team-b"): the Application does not grant gitcanary its syncs`},
		{name: "a prefix is not a namespace", namespaces: ptr("team"), ns: "team-a",
			wantErr: `Application reviews: add the annotation gitcanary.io/release-namespaces: team,team-a to let Release resources in namespace "team-a" drive it (it has "team"): the Application does not grant gitcanary its syncs`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := argocdtest.New()
			app := &v1alpha1.Application{ObjectMeta: metav1.ObjectMeta{Name: "reviews", Namespace: "argocd",
				Annotations: map[string]string{argocd.GrantAnnotation: "gitcanary"}}}
			if tt.namespaces != nil {
				app.Annotations[argocd.NamespacesAnnotation] = *tt.namespaces
			}
			fake.SetApp(app)
			err := argocd.GrantedTo(fake, argocd.Grant{Namespace: tt.ns}).Sync(context.Background(), "reviews", "", false)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tt.wantErr == "" && len(fake.Syncs()) != 1:
				t.Errorf("%d syncs, want 1", len(fake.Syncs()))
			case tt.wantErr != "" && (err == nil || err.Error() != tt.wantErr || !errors.Is(err, argocd.ErrNotAuthorized)):
				t.Errorf("err = %v\nwant %s", err, tt.wantErr)
			case tt.wantErr != "" && len(fake.Syncs()) != 0:
				t.Errorf("refused, yet %d syncs", len(fake.Syncs()))
			}
		})
	}
}
