package ecsflow

import (
	"context"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"log/slog"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"

	"github.com/ecsflow/ecsflow/internal/api"
	"github.com/ecsflow/ecsflow/internal/pipeline"
	"github.com/ecsflow/ecsflow/internal/steps"
)

// The variables a function may read without the construct setting them.
var (
	// runtimeVars are set by the Lambda runtime.
	runtimeVars = map[string]bool{steps.EnvMemoryMB: true, steps.EnvSessionName: true}
	// optionalVars have a default in the code, or are an alternative to
	// variables the construct sets.
	optionalVars = map[string]string{
		steps.EnvHeartbeatSeconds:   "tuning; the code defaults to 60 s",
		steps.EnvNotify:             "only \"off\" matters (Props.DisableNotifications sets it)",
		"STATE_MACHINE_ARNS":        "alternative to STATE_MACHINE_ARN_<STRATEGY> and ECSFLOW_STATE_MACHINE_ARN_PREFIX",
		"STATE_MACHINE_ARN_ROLLING": "the pipeline steps name the workflows from ECSFLOW_STATE_MACHINE_ARN_PREFIX instead",
		"STATE_MACHINE_ARN_CANARY":  "as STATE_MACHINE_ARN_ROLLING", "STATE_MACHINE_ARN_BLUE_GREEN": "as STATE_MACHINE_ARN_ROLLING",
		"STATE_MACHINE_ARN_DAEMON": "as STATE_MACHINE_ARN_ROLLING",
	}
	// knownConsts resolves the constants the mains pass to os.Getenv.
	knownConsts = map[string]string{
		"pipeline.EnvEventBus": pipeline.EnvEventBus, "pipeline.EnvNotify": pipeline.EnvNotify,
		"pipeline.EnvStateMachinePrefix": pipeline.EnvStateMachinePrefix,
		"steps.EnvEventBus":              steps.EnvEventBus, "steps.EnvNotify": steps.EnvNotify, "steps.EnvTableName": steps.EnvTableName,
	}
)

// recorder is a getenv over one Lambda's synthesized environment that
// records the names read.
type recorder struct {
	mu   sync.Mutex
	env  map[string]string
	read map[string]bool
}

func (r *recorder) getenv(k string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.read[k] = true
	return r.env[k]
}

// envReads runs what functions/<name>/main.go does with its environment:
// the configuration builders it passes os.Getenv to run on rec, and the
// names it reads itself are recorded. Errors are test errors.
func envReads(t *testing.T, name string, rec *recorder) {
	t.Helper()
	path := filepath.Join("..", "..", "functions", name, "main.go")
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, path, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	consts := map[string]string{}
	funcs := map[string]*ast.FuncDecl{}
	for _, d := range f.Decls {
		switch d := d.(type) {
		case *ast.GenDecl:
			for _, sp := range d.Specs {
				if vs, ok := sp.(*ast.ValueSpec); ok {
					for i, n := range vs.Names {
						if i < len(vs.Values) {
							if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
								consts[n.Name], _ = strconv.Unquote(lit.Value)
							}
						}
					}
				}
			}
		case *ast.FuncDecl:
			funcs[d.Name.Name] = d
		}
	}
	resolve := func(e ast.Expr) (string, bool) {
		switch x := e.(type) {
		case *ast.BasicLit:
			s, err := strconv.Unquote(x.Value)
			return s, err == nil
		case *ast.Ident:
			s, ok := consts[x.Name]
			return s, ok
		case *ast.SelectorExpr:
			if p, ok := x.X.(*ast.Ident); ok {
				s, ok := knownConsts[p.Name+"."+x.Sel.Name]
				return s, ok
			}
		}
		return "", false
	}
	isGetenv := func(e ast.Expr, local string) bool {
		if sel, ok := e.(*ast.SelectorExpr); ok {
			p, _ := sel.X.(*ast.Ident)
			return p != nil && p.Name == "os" && sel.Sel.Name == "Getenv"
		}
		id, ok := e.(*ast.Ident)
		return ok && local != "" && id.Name == local
	}
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	var walk func(n ast.Node, local string)
	walk = func(n ast.Node, local string) {
		ast.Inspect(n, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			if isGetenv(call.Fun, local) {
				if len(call.Args) != 1 {
					return true
				}
				k, ok := resolve(call.Args[0])
				if !ok {
					t.Errorf("functions/%s: %s reads a variable this test cannot name: add it to knownConsts", name, fset.Position(call.Pos()))
					return true
				}
				rec.getenv(k)
				return true
			}
			for _, a := range call.Args {
				if !isGetenv(a, local) {
					continue
				}
				callee := types(call.Fun)
				switch {
				case callee == "steps.FunctionFromEnv":
					var fn *steps.Function
					for _, s := range steps.Functions() {
						if s.Name == name {
							fn = &s
						}
					}
					if fn == nil {
						t.Errorf("functions/%s calls steps.FunctionFromEnv but is not in steps.Functions()", name)
						return true
					}
					if _, err := steps.FunctionFromEnv(ctx, rec.getenv, log, *fn); err != nil {
						t.Errorf("functions/%s: steps.FunctionFromEnv on its environment: %v", name, err)
					}
				case callee == "api.ConfigFromEnv":
					if _, err := api.ConfigFromEnv(rec.getenv); err != nil {
						t.Errorf("functions/%s: api.ConfigFromEnv on its environment: %v", name, err)
					}
				case callee == "pipeline.FromEnv":
					if _, err := pipeline.FromEnv(ctx, rec.getenv, log); err != nil {
						t.Errorf("functions/%s: pipeline.FromEnv on its environment: %v", name, err)
					}
				case funcs[callee] != nil:
					// A function of the main itself: follow its getenv
					// parameter.
					fd := funcs[callee]
					param := ""
					i := 0
					for _, fld := range fd.Type.Params.List {
						for _, n := range fld.Names {
							if i == argIndex(call, a) {
								param = n.Name
							}
							i++
						}
					}
					walk(fd.Body, param)
				default:
					t.Errorf("functions/%s: os.Getenv is passed to %s, which this test does not run: add it", name, callee)
				}
			}
			return true
		})
	}
	main, ok := funcs["main"]
	if !ok {
		t.Fatalf("functions/%s: no main", name)
	}
	walk(main.Body, "")
}

func argIndex(call *ast.CallExpr, a ast.Expr) int {
	for i, x := range call.Args {
		if x == a {
			return i
		}
	}
	return -1
}

// types renders a callee ("steps.FunctionFromEnv", "build").
func types(e ast.Expr) string {
	switch x := e.(type) {
	case *ast.Ident:
		return x.Name
	case *ast.SelectorExpr:
		return types(x.X) + "." + x.Sel.Name
	}
	return "?"
}

// TestEnvironmentCoversReads synthesizes the shipped functions and runs
// each one's configuration code (what its main.go does with os.Getenv) on
// the environment its Lambda gets: the code must accept it, and every
// variable it reads must be set, unless the runtime sets it or the code
// has a default (optionalVars).
func TestEnvironmentCoversReads(t *testing.T) {
	// What the Lambda runtime gives every function (awsenv reads these
	// from the process environment, not through getenv).
	for k, v := range map[string]string{"AWS_REGION": "us-west-2", "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE",
		"AWS_SECRET_ACCESS_KEY": "secret", "AWS_SESSION_TOKEN": "token"} {
		t.Setenv(k, v)
	}
	real, functions, build := shippedFunctions(t)
	app := awscdk.NewApp(nil)
	stack := awscdk.NewStack(app, jsii.String("Env"), &awscdk.StackProps{Env: &awscdk.Environment{
		Account: jsii.String("111122223333"), Region: jsii.String("us-west-2")}})
	e, err := New(stack, "Ecsflow", Props{FunctionsDir: functions, AssetRoot: build, Clusters: []string{"prod"}})
	if err != nil {
		t.Fatal(err)
	}
	s := parse(t, stack, e)
	lambdas := s.lambdaByFunction(t)
	for _, name := range real {
		r, ok := lambdas[name]
		if !ok {
			t.Errorf("functions/%s has no Lambda", name)
			continue
		}
		vars := r.Properties["Environment"].(map[string]any)["Variables"].(map[string]any)
		rec := &recorder{env: map[string]string{}, read: map[string]bool{}}
		for k, v := range vars {
			rec.env[k] = rendered(v)
		}
		envReads(t, name, rec)
		for _, k := range unsetReads(rec.read, vars) {
			t.Errorf("functions/%s reads %s, which its Lambda does not set", name, k)
		}
		var read []string
		for k := range rec.read {
			read = append(read, k)
		}
		sort.Strings(read)
		if !rec.read[EnvTableName] {
			t.Errorf("functions/%s: the test saw no read of %s: it did not run the function's configuration (read %v)", name, EnvTableName, read)
		}
		t.Logf("%s reads %v", name, read)
	}
}

// unsetReads are the variables read that are neither set nor provided by
// the runtime nor optional.
func unsetReads(read map[string]bool, vars map[string]any) []string {
	var out []string
	for k := range read {
		if _, set := vars[k]; set || runtimeVars[k] || strings.HasPrefix(k, "AWS_") {
			continue
		}
		if _, ok := optionalVars[k]; ok {
			continue
		}
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestEnvCheckCatches proves the check can fail: ecs-events' main reads
// TABLE_NAME through its own build function, and an environment without
// it is reported.
func TestEnvCheckCatches(t *testing.T) {
	rec := &recorder{env: map[string]string{}, read: map[string]bool{}}
	envReads(t, "ecs-events", rec)
	if got := unsetReads(rec.read, map[string]any{"OTHER": "x"}); len(got) != 1 || got[0] != EnvTableName {
		t.Errorf("unset: got %v, want [%s]", got, EnvTableName)
	}
	if got := unsetReads(rec.read, map[string]any{EnvTableName: "t"}); len(got) != 0 {
		t.Errorf("with %s set: got %v", EnvTableName, got)
	}
}
