package steps_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"go/types"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"golang.org/x/tools/go/packages"

	"github.com/ecsflow/ecsflow/internal/steps"
)

const (
	modulePath = "github.com/ecsflow/ecsflow"
	stepsPath  = modulePath + "/internal/steps"
	ecsopsPath = modulePath + "/internal/ecsops"
)

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

// wiring is what one Lambda binary can reach, as the linker sees it: the
// Clients fields its code reads (needed) and the ones its wiring fills
// (wired), each with the call chain that reaches it.
type wiring struct {
	needed map[string]string
	wired  map[string]string
}

// program is the source of the step Lambdas, internal/steps and
// internal/ecsops, type-checked.
type program struct {
	decls   map[*types.Func]*ast.FuncDecl
	info    map[*ast.FuncDecl]*types.Info
	methods map[string][]*types.Func // concrete methods by name
	fields  map[*types.Var]string    // ecsops.Clients fields
}

func loadProgram(t *testing.T, root string, mains []string) (*program, map[string]*packages.Package) {
	t.Helper()
	patterns := []string{"./internal/steps", "./internal/ecsops"}
	for _, m := range mains {
		patterns = append(patterns, "./functions/"+m)
	}
	cfg := &packages.Config{
		Mode: packages.NeedName | packages.NeedFiles | packages.NeedSyntax | packages.NeedTypes |
			packages.NeedTypesInfo | packages.NeedImports,
		Dir: root,
		Env: append(os.Environ(), "CGO_ENABLED=0"),
	}
	pkgs, err := packages.Load(cfg, patterns...)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	p := &program{decls: map[*types.Func]*ast.FuncDecl{}, info: map[*ast.FuncDecl]*types.Info{},
		methods: map[string][]*types.Func{}, fields: map[*types.Var]string{}}
	byPath := map[string]*packages.Package{}
	for _, pkg := range pkgs {
		for _, e := range pkg.Errors {
			t.Fatalf("%s: %v", pkg.PkgPath, e)
		}
		byPath[pkg.PkgPath] = pkg
		for _, file := range pkg.Syntax {
			for _, d := range file.Decls {
				fd, ok := d.(*ast.FuncDecl)
				if !ok || fd.Body == nil {
					continue
				}
				fn, ok := pkg.TypesInfo.Defs[fd.Name].(*types.Func)
				if !ok {
					continue
				}
				p.decls[fn] = fd
				p.info[fd] = pkg.TypesInfo
				if fd.Recv != nil {
					p.methods[fn.Name()] = append(p.methods[fn.Name()], fn)
				}
			}
		}
	}
	ops := byPath[ecsopsPath]
	if ops == nil {
		t.Fatal("internal/ecsops not loaded")
	}
	clients, ok := ops.Types.Scope().Lookup("Clients").(*types.TypeName)
	if !ok {
		t.Fatal("ecsops.Clients not found")
	}
	st := clients.Type().Underlying().(*types.Struct)
	for i := range st.NumFields() {
		p.fields[st.Field(i)] = st.Field(i).Name()
	}
	return p, byPath
}

// reach walks the static call graph from root: direct calls and function
// or method values; an interface method reaches every method of that name
// in the loaded packages (the linker keeps no less). Function literals
// count as part of the function they are written in.
func (p *program) reach(root *types.Func) wiring {
	w := wiring{needed: map[string]string{}, wired: map[string]string{}}
	via := map[*types.Func]string{root: root.FullName()}
	queue := []*types.Func{root}
	for len(queue) > 0 {
		fn := queue[0]
		queue = queue[1:]
		fd := p.decls[fn]
		info := p.info[fd]
		writes := map[*ast.Ident]bool{}
		ast.Inspect(fd.Body, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.AssignStmt:
				for _, lhs := range n.Lhs {
					if sel, ok := lhs.(*ast.SelectorExpr); ok {
						writes[sel.Sel] = true
					}
				}
			case *ast.KeyValueExpr:
				if id, ok := n.Key.(*ast.Ident); ok {
					writes[id] = true
				}
			}
			return true
		})
		ast.Inspect(fd.Body, func(n ast.Node) bool {
			id, ok := n.(*ast.Ident)
			if !ok {
				return true
			}
			switch obj := info.Uses[id].(type) {
			case *types.Var:
				name, ok := p.fields[obj.Origin()]
				if !ok {
					return true
				}
				m := w.needed
				if writes[id] {
					m = w.wired
				}
				if _, seen := m[name]; !seen {
					m[name] = via[fn]
				}
			case *types.Func:
				obj = obj.Origin()
				targets := []*types.Func{obj}
				if sig, ok := obj.Type().(*types.Signature); ok && sig.Recv() != nil && types.IsInterface(sig.Recv().Type()) {
					targets = p.methods[obj.Name()]
				}
				for _, callee := range targets {
					if _, ok := p.decls[callee]; !ok {
						continue
					}
					if _, seen := via[callee]; seen {
						continue
					}
					via[callee] = via[fn] + " -> " + callee.FullName()
					queue = append(queue, callee)
				}
			}
			return true
		})
	}
	return w
}

// TestFunctionWiring fails when a step Lambda's handler can reach a client
// its main does not wire (the Lambda would dereference a nil client on
// AWS), or wires a client its handler never calls (dead weight in the
// binary). It reads the source the binaries are built from: from each
// functions/step-*/main.go's main, every Clients field the code reads must
// be filled by the wiring it reaches, and the other way round.
func TestFunctionWiring(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	mains := stepMains(t, root)
	if len(mains) == 0 {
		t.Fatal("no functions/* imports internal/steps")
	}
	p, pkgs := loadProgram(t, root, mains)
	services := map[string]bool{}
	for _, name := range mains {
		t.Run(name, func(t *testing.T) {
			pkg := pkgs[modulePath+"/functions/"+name]
			if pkg == nil {
				t.Fatalf("functions/%s not loaded", name)
			}
			mainFn, ok := pkg.Types.Scope().Lookup("main").(*types.Func)
			if !ok {
				t.Fatalf("functions/%s has no main", name)
			}
			w := p.reach(mainFn)
			for field, path := range w.needed {
				services[field] = true
				if _, ok := w.wired[field]; !ok {
					t.Errorf("the handler reads Clients.%s, which functions/%s does not wire:\n  %s", field, name, path)
				}
			}
			for field, path := range w.wired {
				if _, ok := w.needed[field]; !ok {
					t.Errorf("functions/%s wires Clients.%s, which its handler never calls:\n  %s", name, field, path)
				}
			}
			t.Logf("%s: clients %v", name, sortedKeys(w.needed))
		})
	}
	// The walk must see the handlers' AWS calls at all: every service is
	// called by some step.
	for f := range p.fields {
		if !services[f.Name()] {
			t.Errorf("no step reads Clients.%s: the analysis missed the handlers' calls", f.Name())
		}
	}
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
