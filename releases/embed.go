// Package releases holds example Release documents; a test validates each.
package releases

import "embed"

// Examples are the Release documents in this directory.
//
//go:embed *.yaml
var Examples embed.FS
