package controller

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/tools/record"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	crcontroller "sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	"github.com/gitcanary/gitcanary/pkg/argocd"
	"github.com/gitcanary/gitcanary/pkg/kube"
	"github.com/gitcanary/gitcanary/pkg/redact"
	"github.com/gitcanary/gitcanary/pkg/release"
)

// ReleaseGVK names the Release custom resource.
var ReleaseGVK = schema.GroupVersionKind{Group: "gitcanary.io", Version: "v1alpha1", Kind: "Release"}

// Status is a Release custom resource's status: the release's record from
// git, plus what Kubernetes tooling reads.
type Status struct {
	release.Status `json:",inline"`
	// CanaryWeight is the new version's weight (a printer column).
	CanaryWeight       int32              `json:"canaryWeight"`
	ObservedGeneration int64              `json:"observedGeneration,omitempty"`
	Conditions         []metav1.Condition `json:"conditions,omitempty"`
	// Commit is the release's last commit.
	Commit string `json:"commit,omitempty"`
}

// Condition types of a Release custom resource.
const (
	ConditionReady       = "Ready"       // promoted: the new version carries all traffic
	ConditionProgressing = "Progressing" // the release is under way
	ConditionStalled     = "Stalled"     // the controller cannot drive it (invalid, changed spec, errors)
	ConditionPaused      = "Paused"      // in a pause step
	ConditionAbandoned   = "Abandoned"   // ended without a promote

	// ReasonWaitingForWindow is Progressing's reason while a window holds
	// the release: its schedule's, or Argo CD's sync windows (the message
	// names it and when it opens).
	ReasonWaitingForWindow = "WaitingForWindow"
)

// CRReconciler drives Release custom resources.
type CRReconciler struct {
	Client   client.Client
	Driver   *Driver
	Recorder record.EventRecorder
	Kinds    *kube.Kinds
	// Workers is how many releases are reconciled at once (default 4).
	Workers int
}

// SetupWithManager registers the reconciler. Only spec changes (including
// spec.control) and the reconciler's own requeues wake a release; its
// status writes do not.
func (c *CRReconciler) SetupWithManager(mgr ctrl.Manager) error {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(ReleaseGVK)
	workers := c.Workers
	if workers <= 0 {
		workers = 4
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(u, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Named("release").
		WithOptions(crcontroller.Options{MaxConcurrentReconciles: workers}).
		Complete(c)
}

// Reconcile implements reconcile.Reconciler.
func (c *CRReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(ReleaseGVK)
	if err := c.Client.Get(ctx, req.NamespacedName, u); err != nil {
		if apierrors.IsNotFound(err) {
			// Deleting the resource stops driving the release; git keeps
			// it as it stands (docs/controller.md).
			c.Driver.Metrics.Forget(req.Namespace, req.Name)
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, err
	}
	r, err := decode(u, c.Kinds)
	// Drive the release until it waits, as GitSource does: a zero
	// RequeueAfter would not requeue it and its status writes do not wake
	// it. Each status Update refreshes u, so no step reads a stale cache.
	for i := 1; ; i++ {
		var res Result
		if err == nil {
			res, err = c.Driver.ReconcileIn(ctx, req.Namespace, r)
		}
		old := currentStatus(u)
		st := nextStatus(old, u.GetGeneration(), res, err, time.Now())
		if err := c.writeStatus(ctx, u, old, st); err != nil {
			return ctrl.Result{}, err
		}
		c.events(u, old, st, res, err)
		switch {
		case err != nil && refused(err):
			// Fixed on the Application (a grant, its source), which
			// does not wake the resource: look again, less and less often.
			return ctrl.Result{RequeueAfter: refusedRetry(st, time.Now())}, nil
		case err != nil && permanent(err):
			return ctrl.Result{}, nil // waits for a spec change
		case errors.Is(err, ErrPanic):
			return ctrl.Result{RequeueAfter: panicRetry}, nil // a fix in git may come
		case err != nil:
			return ctrl.Result{RequeueAfter: c.Driver.poll()}, nil
		case res.Done:
			return ctrl.Result{}, nil
		case res.Requeue > 0:
			return ctrl.Result{RequeueAfter: res.Requeue}, nil
		case i == maxStepsPerReconcile:
			return ctrl.Result{RequeueAfter: time.Millisecond}, nil // let other releases have the worker
		}
	}
}

// panicRetry is how long a release whose reconcile panicked waits before
// the next try: long enough not to flood the log with stacks.
const panicRetry = time.Minute

// maxStepsPerReconcile bounds the side effects of one reconcile.
const maxStepsPerReconcile = 20

// decode reads a custom resource as a Release and validates it.
func decode(u *unstructured.Unstructured, kinds *kube.Kinds) (*release.Release, error) {
	data, err := json.Marshal(map[string]any{"apiVersion": u.GetAPIVersion(), "kind": u.GetKind(), "spec": u.Object["spec"]})
	if err != nil {
		return nil, err
	}
	r, err := release.Parse(data)
	if err != nil {
		return nil, err
	}
	r.Metadata = release.Metadata{Name: u.GetName(), Namespace: u.GetNamespace(), Labels: u.GetLabels(), Annotations: u.GetAnnotations()}
	opts := release.ValidateOptions{}
	if kinds != nil {
		opts.KnownKind = kinds.Known
	}
	if err := release.Validate(r, opts); err != nil {
		return nil, err
	}
	return r, nil
}

func currentStatus(u *unstructured.Unstructured) Status {
	var st Status
	if raw, ok := u.Object["status"]; ok {
		data, _ := json.Marshal(raw)
		_ = json.Unmarshal(data, &st)
	}
	return st
}

// nextStatus mirrors the git record into the resource's status, with
// conditions saying where the release stands.
func nextStatus(old Status, generation int64, res Result, err error, now time.Time) Status {
	st := Status{ObservedGeneration: generation, Conditions: append([]metav1.Condition(nil), old.Conditions...), Commit: old.Commit}
	if res.Record != nil && res.Record.Status != nil {
		st.Status = *res.Record.Status
		st.CanaryWeight = release.WeightOf(st.Weights, res.Record.Spec.Version)
	} else {
		st.Status, st.CanaryWeight = old.Status, old.CanaryWeight
	}
	if res.Commit != "" {
		st.Commit = res.Commit
	}
	set := func(t string, ok bool, reason, msg string) {
		s := metav1.ConditionFalse
		if ok {
			s = metav1.ConditionTrue
		}
		meta.SetStatusCondition(&st.Conditions, metav1.Condition{Type: t, Status: s, Reason: reason, Message: msg, ObservedGeneration: generation, LastTransitionTime: metav1.NewTime(now)})
	}
	phase := string(st.Phase)
	if phase == "" {
		phase = "Pending"
	}
	waiting := res.Reason
	if waiting == "" {
		waiting = st.Message
	}
	switch {
	case err != nil && (permanent(err) || errors.Is(err, ErrPanic)):
		set(ConditionStalled, true, stalledReason(err), err.Error())
	case err != nil:
		// Retried: the release is not stuck, only delayed.
		set(ConditionStalled, false, "Retrying", err.Error())
		waiting = "retrying after an error: " + err.Error()
	default:
		set(ConditionStalled, false, "Driving", "")
	}
	set(ConditionReady, st.Phase == release.Promoted, phase, st.Message)
	progressing := phase
	if res.Window && err == nil {
		progressing = ReasonWaitingForWindow
	}
	set(ConditionProgressing, !st.Phase.Terminal(), progressing, waiting)
	set(ConditionPaused, st.Phase == release.Paused, phase, waiting)
	set(ConditionAbandoned, st.Phase == release.Abandoned, orPhase(st.Reason, phase), st.Message)
	// Messages quote errors of git, Argo CD and the API server, which may
	// name a URL: never with its credentials.
	for i := range st.Conditions {
		st.Conditions[i].Message = redact.Text(st.Conditions[i].Message)
	}
	return st
}

func orPhase(reason, phase string) string {
	if reason != "" {
		return reason
	}
	return phase
}

// permanent errors need a person: a spec to fix, a grant to add.
func permanent(err error) bool {
	switch ErrorReason(err) {
	case "invalid", "changed-spec", "refused", "superseded":
		return true
	}
	return refused(err)
}

// refused errors are permanent errors a person fixes outside the Release
// resource: the Application's grant or source, the release's owner.
func refused(err error) bool {
	return errors.Is(err, argocd.ErrNotAuthorized) || errors.Is(err, argocd.ErrMismatch) || errors.Is(err, ErrOtherNamespace)
}

// Retries of a refused release: the first after refusedMin, then each
// after as long as it has been stalled (so about doubling), at most
// refusedMax apart. The time comes from the Stalled condition's
// LastTransitionTime, which stays put while the release stays stalled, so
// the backoff survives restarts and needs no state of its own.
const (
	refusedMin = 30 * time.Second
	refusedMax = 10 * time.Minute
)

func refusedRetry(st Status, now time.Time) time.Duration {
	wait := refusedMin
	if c := meta.FindStatusCondition(st.Conditions, ConditionStalled); c != nil && c.Status == metav1.ConditionTrue {
		if since := now.Sub(c.LastTransitionTime.Time); since > wait {
			wait = since
		}
	}
	return min(wait, refusedMax)
}

func stalledReason(err error) string {
	switch ErrorReason(err) {
	case "not-granted":
		return "NotGranted"
	case "application":
		return "ApplicationMismatch"
	case "other-namespace":
		return "OtherNamespace"
	case "invalid":
		return "InvalidSpec"
	case "changed-spec":
		return "SpecChanged"
	case "argocd":
		return "ArgoCD"
	case "refused":
		return "Refused"
	case "superseded":
		return "Superseded"
	case "panic":
		return "InternalError"
	}
	return "Error"
}

func (c *CRReconciler) writeStatus(ctx context.Context, u *unstructured.Unstructured, old, st Status) error {
	if reflect.DeepEqual(old, st) {
		return nil
	}
	m, err := statusObject(st)
	if err != nil {
		return err
	}
	u.Object["status"] = m
	if err := c.Client.Status().Update(ctx, u); err != nil {
		return fmt.Errorf("update status of Release %s/%s: %w", u.GetNamespace(), u.GetName(), err)
	}
	return nil
}

// redactingRecorder passes every Event's message through redact.Text.
type redactingRecorder struct{ record.EventRecorder }

func (r redactingRecorder) Event(obj runtime.Object, eventtype, reason, message string) {
	r.EventRecorder.Event(obj, eventtype, reason, redact.Text(message))
}

func (r redactingRecorder) Eventf(obj runtime.Object, eventtype, reason, format string, args ...any) {
	r.EventRecorder.Event(obj, eventtype, reason, redact.Text(fmt.Sprintf(format, args...)))
}

func (r redactingRecorder) AnnotatedEventf(obj runtime.Object, annotations map[string]string, eventtype, reason, format string, args ...any) {
	r.EventRecorder.AnnotatedEventf(obj, annotations, eventtype, reason, "%s", redact.Text(fmt.Sprintf(format, args...)))
}

// statusObject is st as the resource's status field.
func statusObject(st Status) (map[string]any, error) {
	data, err := json.Marshal(st)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, err
	}
	if m["phase"] == "" {
		// No phase yet (refused before the first commit): the CRD's enum
		// rejects "", and the status must still say Stalled and why.
		delete(m, "phase")
	}
	return m, nil
}

// events records a Kubernetes Event for every commit, sync and phase change.
func (c *CRReconciler) events(u *unstructured.Unstructured, old, st Status, res Result, err error) {
	if c.Recorder == nil {
		return
	}
	if err != nil {
		c.Recorder.Event(u, "Warning", stalledReason(err), err.Error())
		return
	}
	switch res.Did {
	case "start", "control", "commit":
		c.Recorder.Eventf(u, "Normal", "Committed", "%s: commit %s (%s)", st.Action, shortHash(res.Commit), release.FormatWeights(st.Weights))
	case "sync":
		c.Recorder.Eventf(u, "Normal", "Synced", "Argo CD sync of %s requested", shortHash(res.Commit))
	}
	if st.Phase != old.Phase && st.Phase != "" {
		c.Recorder.Eventf(u, "Normal", string(st.Phase), "phase %s → %s: %s", orPhase(string(old.Phase), "Pending"), st.Phase, st.Message)
	}
}
