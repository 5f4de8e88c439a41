// Package bigrepo generates the monorepo of `make bench-repo`: 500 apps of
// 20 files each (10,000 files) under apps/, and 10,000 commits of history,
// the same bytes on every machine. Each app is the fixture app (a
// Deployment, its Service, Gateway, DestinationRule and VirtualService)
// plus 14 ConfigMaps; the first 500 commits add one app each, the other
// 9,500 each change one ConfigMap of an app picked by a fixed sequence, as
// teams and bots do in a shared repository.
package bigrepo

import (
	"bufio"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/gitcanary/gitcanary/fixtures"
)

// Shape of the generated repository.
const (
	Apps        = 500
	FilesPerApp = 20
	Commits     = 10000
	configMaps  = FilesPerApp - 6 // the fixture app has 6 files
)

// Name is the bare repository's directory under the generation directory;
// a new layout gets a new name, so a stale cache is never reused.
const Name = "mono-v1.git"

// AppPath is app i's path.
func AppPath(i int) string { return fmt.Sprintf("apps/app-%03d", i) }

// Ensure returns the bare repository under dir, generating it first when
// it is not there (generated reports which). It takes a few seconds: one
// `git fast-import` stream, then `git repack` as a server would hold it.
func Ensure(dir string) (repo string, generated bool, err error) {
	repo = filepath.Join(dir, Name)
	if _, err := os.Stat(filepath.Join(repo, "gitcanary-bench-complete")); err == nil {
		return repo, false, nil
	}
	tmp := repo + ".tmp"
	if err := os.RemoveAll(tmp); err != nil {
		return "", false, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", false, err
	}
	if out, err := exec.Command("git", "init", "--quiet", "--bare", "--initial-branch=main", tmp).CombinedOutput(); err != nil {
		return "", false, fmt.Errorf("git init: %v: %s", err, out)
	}
	fi := exec.Command("git", "--git-dir="+tmp, "fast-import", "--quiet")
	in, err := fi.StdinPipe()
	if err != nil {
		return "", false, err
	}
	var stderr strings.Builder
	fi.Stderr = &stderr
	if err := fi.Start(); err != nil {
		return "", false, err
	}
	werr := Stream(in)
	in.Close()
	if err := fi.Wait(); err != nil || werr != nil {
		return "", false, fmt.Errorf("git fast-import: %v %v: %s", werr, err, stderr.String())
	}
	if out, err := exec.Command("git", "--git-dir="+tmp, "repack", "-a", "-d", "--quiet").CombinedOutput(); err != nil {
		return "", false, fmt.Errorf("git repack: %v: %s", err, out)
	}
	if err := os.WriteFile(filepath.Join(tmp, "gitcanary-bench-complete"), nil, 0o644); err != nil {
		return "", false, err
	}
	if err := os.RemoveAll(repo); err != nil {
		return "", false, err
	}
	return repo, true, os.Rename(tmp, repo)
}

// Stream writes the repository's history as a git fast-import stream.
func Stream(out io.Writer) error {
	w := bufio.NewWriterSize(out, 1<<20)
	app, err := appFiles()
	if err != nil {
		return err
	}
	const epoch = 1767225600 // 2026-01-01T00:00:00Z
	seq := uint32(12345)
	for c := 1; c <= Commits; c++ {
		var msg string
		files := map[string]string{}
		if c <= Apps {
			i := c - 1
			msg = fmt.Sprintf("add %s", AppPath(i))
			for name, data := range app {
				files[path.Join(AppPath(i), name)] = data
			}
			for k := range configMaps {
				files[path.Join(AppPath(i), cmName(k))] = configMap(i, k, 0)
			}
		} else {
			seq = seq*1664525 + 1013904223 // a fixed LCG: the same history everywhere
			i, k := int(seq>>8)%Apps, int(seq>>20)%configMaps
			msg = fmt.Sprintf("%s: bump %s", AppPath(i), cmName(k))
			files[path.Join(AppPath(i), cmName(k))] = configMap(i, k, c)
		}
		fmt.Fprintf(w, "commit refs/heads/main\nmark :%d\ncommitter bench <bench@localhost> %d +0000\ndata %d\n%s\n", c, epoch+60*c, len(msg), msg)
		if c > 1 {
			fmt.Fprintf(w, "from :%d\n", c-1)
		}
		for _, p := range slices.Sorted(maps.Keys(files)) {
			fmt.Fprintf(w, "M 100644 inline %s\ndata %d\n%s\n", p, len(files[p]), files[p])
		}
	}
	return w.Flush()
}

// appFiles is the fixture app, its kustomization naming the ConfigMaps too.
func appFiles() (map[string]string, error) {
	out := map[string]string{}
	err := fs.WalkDir(fixtures.Apps, "apps/reviews", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(fixtures.Apps, p)
		out[path.Base(p)] = string(data)
		return err
	})
	if err != nil {
		return nil, err
	}
	if len(out) != FilesPerApp-configMaps {
		return nil, fmt.Errorf("the fixture app has %d files, the layout expects %d", len(out), FilesPerApp-configMaps)
	}
	k := strings.TrimRight(out["kustomization.yaml"], "\n") + "\n"
	for i := range configMaps {
		k += "  - " + cmName(i) + "\n"
	}
	out["kustomization.yaml"] = k
	return out, nil
}

func cmName(k int) string { return fmt.Sprintf("cm-%02d.yaml", k) }

func configMap(app, k, rev int) string {
	return fmt.Sprintf(`apiVersion: v1
kind: ConfigMap
metadata:
  name: settings-%02d
  labels: {app: reviews, team: team-%03d}
data:
  revision: "%d"
  feature.flags: "search=%t,recommendations=%t,beta=%t"
  endpoint: "http://backend-%03d.internal:8080/v%d"
`, k, app, rev, rev%2 == 0, rev%3 == 0, rev%5 == 0, app, k)
}
