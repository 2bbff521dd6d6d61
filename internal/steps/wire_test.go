package steps_test

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"github.com/ecsflow/ecsflow/internal/ecsops"
	"github.com/ecsflow/ecsflow/internal/lambdacalls"
	"github.com/ecsflow/ecsflow/internal/steps"
)

const stepsPath = "github.com/ecsflow/ecsflow/internal/steps"

// stepMains lists the functions/* folders whose main imports internal/steps.
func stepMains(t *testing.T, root string) []string {
	t.Helper()
	dirs, err := os.ReadDir(filepath.Join(root, "functions"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, d := range dirs {
		if !d.IsDir() {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), filepath.Join(root, "functions", d.Name(), "main.go"), nil, parser.ImportsOnly)
		if err != nil {
			t.Fatalf("functions/%s: %v", d.Name(), err)
		}
		for _, imp := range f.Imports {
			if p, _ := strconv.Unquote(imp.Path.Value); p == stepsPath {
				names = append(names, d.Name())
			}
		}
	}
	return names
}

// TestFunctionsHaveMains: every step function has its Lambda folder, and
// every Lambda built on internal/steps is a step function.
func TestFunctionsHaveMains(t *testing.T) {
	var names []string
	for _, f := range steps.Functions() {
		names = append(names, f.Name)
	}
	slices.Sort(names)
	got := stepMains(t, "../..")
	if !slices.Equal(got, names) {
		t.Fatalf("functions/* importing internal/steps: got %v, want one per steps.Functions() %v", got, names)
	}
}

// TestFunctionWiring fails when a step Lambda's handler can reach a client
// or engine dependency its main does not wire (the Lambda would
// dereference a nil client on AWS, fail to complete a task token, or
// silently send no notification), or wires one its handler never uses
// (dead weight in the binary). It reads the source the binaries are built from
// (internal/lambdacalls): from each functions/step-*/main.go's main, every
// ecsops.Clients field the code reads must be filled by the wiring it
// reaches, and the other way round.
func TestFunctionWiring(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	mains := stepMains(t, root)
	if len(mains) == 0 {
		t.Fatal("no functions/* imports internal/steps")
	}
	reports, err := lambdacalls.Analyze(root, mains...)
	if err != nil {
		t.Fatal(err)
	}
	services := map[string]bool{}
	for _, name := range mains {
		t.Run(name, func(t *testing.T) {
			r := reports[name]
			for field, path := range r.ClientsRead {
				services[field] = true
				if _, ok := r.ClientsWired[field]; !ok {
					t.Errorf("the handler reads Clients.%s, which functions/%s does not wire:\n  %s", field, name, path)
				}
			}
			for field, path := range r.ClientsWired {
				if _, ok := r.ClientsRead[field]; !ok {
					t.Errorf("functions/%s wires Clients.%s, which its handler never calls:\n  %s", name, field, path)
				}
			}
			for _, d := range deps {
				read, reads := r.Fields[stepsPath+".Engine."+d.field]
				wired, wires := r.Funcs[stepsPath+"."+d.wire]
				switch {
				case reads && !wires:
					t.Errorf("the handler uses Engine.%s, which functions/%s does not wire (steps.%s):\n  %s", d.field, name, d.wire, read)
				case wires && !reads:
					t.Errorf("functions/%s wires steps.%s, which its handler never uses:\n  %s", name, d.wire, wired)
				}
			}
			t.Logf("%s: clients %v, AWS actions %v", name, sortedKeys(r.ClientsRead), r.SortedActions())
		})
	}
	// The walk must see the handlers' AWS calls at all: every Clients
	// field is read by some step.
	for _, s := range ecsops.AllServices() {
		if !services[s.Field()] {
			t.Errorf("no step reads Clients.%s: the analysis missed the handlers' calls", s.Field())
		}
	}
}

// deps are the engine's dependencies besides the AWS clients: the Engine
// field a handler uses, and what wires it (a field may need several): a
// notifying function needs the Notifications Dep and, from its main,
// WithNotifier's notifier factory.
var deps = []struct{ field, wire string }{
	{"tasks", "TaskTokens"},
	{"execs", "ExecutionHistory"},
	{"notifier", "Notifications"},
	{"notifier", "WithNotifier"},
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
