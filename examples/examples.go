// Package examples ships the example configuration inside the ecsflow
// binary, so `ecsflow demo` and `ecsflow local --seed-example` work from any
// directory.
package examples

import _ "embed"

// ECSFlow is examples/ecsflow.yaml: one application with web and worker,
// dev (canary) and prod (blue/green), a trigger and a release pipeline.
//
//go:embed ecsflow.yaml
var ECSFlow []byte
