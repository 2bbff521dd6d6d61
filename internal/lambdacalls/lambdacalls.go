// Package lambdacalls reads the source the Lambda binaries are built from
// and reports, for each functions/<name> main, what its code can reach, as
// the linker would keep it: the ecsops.Clients fields it reads and the ones
// its wiring fills, the AWS API operations it can call, named as IAM
// actions ("ecs:UpdateService"), and the module's struct fields it reads
// and functions it reaches.
//
// The walk starts at main and follows static calls and function or method
// values; a call through an interface reaches every method of the same name
// and signature declared in the module packages the binary links. Function
// literals count as part of the function they are written in. An
// operation is reached when reachable code mentions its input type
// (ecs.UpdateServiceInput: calls, paginators and waiters all need one);
// stscreds.NewAssumeRoleProvider is sts:AssumeRole, and a DynamoDB
// transaction's Put, Update, Delete and ConditionCheck items are the item
// actions IAM authorises it by. Packages outside the module are read from
// export data, not walked.
package lambdacalls

import (
	"errors"
	"fmt"
	"go/ast"
	"go/constant"
	"go/types"
	"os"
	"slices"
	"strings"

	"golang.org/x/tools/go/packages"
)

const (
	modulePath  = "github.com/ecsflow/ecsflow"
	ecsopsPath  = modulePath + "/internal/ecsops"
	servicePath = "github.com/aws/aws-sdk-go-v2/service/"
	stscredsPkg = "github.com/aws/aws-sdk-go-v2/credentials/stscreds"
)

// iamPrefix is the IAM service prefix of an SDK service package, where it
// differs from the package name.
var iamPrefix = map[string]string{
	"elasticloadbalancingv2": "elasticloadbalancing",
	"applicationautoscaling": "application-autoscaling",
	"sfn":                    "states",
	"eventbridge":            "events",
}

// rawCallers are hand-written AWS callers (no SDK client), by method
// ("<package>.<type>.<method>"): the constant string of argument 1 is the
// operation of that IAM prefix.
var rawCallers = map[string]string{
	ecsopsPath + ".cloudMapAPI.call": "servicediscovery",
}

// transactItem maps DynamoDB transaction item types to the actions IAM
// authorises them by.
var transactItem = map[string]string{
	"Put": "dynamodb:PutItem", "Update": "dynamodb:UpdateItem", "Delete": "dynamodb:DeleteItem",
	"ConditionCheck": "dynamodb:ConditionCheckItem", "Get": "dynamodb:GetItem",
}

// Report is what one Lambda's code can reach. Each map's value is a call
// chain from main that reaches the key, for error messages.
type Report struct {
	Function string
	// ClientsRead are the ecsops.Clients fields the code reads.
	ClientsRead map[string]string
	// ClientsWired are the ecsops.Clients fields the code fills.
	ClientsWired map[string]string
	// Actions are the AWS operations the code can call, as IAM actions.
	Actions map[string]string
	// Fields are the fields of the module's struct types the code reads,
	// as "<package>.<Type>.<field>".
	Fields map[string]string
	// Funcs are the module's functions and methods the code reaches, by
	// types.Func.FullName ("<package>.<Func>", "(*<package>.<Type>).<Method>").
	Funcs map[string]string
}

// SortedActions returns the report's actions in order.
func (r *Report) SortedActions() []string { return sortedKeys(r.Actions) }

// ErrNoFunction is returned for a function with no main package.
var ErrNoFunction = errors.New("no such function")

type program struct {
	decls   map[*types.Func]*ast.FuncDecl
	info    map[*ast.FuncDecl]*types.Info
	pkgOf   map[*ast.FuncDecl]string
	methods map[string][]*types.Func // concrete methods by name
	fields  map[*types.Var]string    // ecsops.Clients fields
}

// Analyze loads the module at root and reports on each named function
// (functions/<name>).
func Analyze(root string, functions ...string) (map[string]*Report, error) {
	if len(functions) == 0 {
		return nil, errors.New("lambdacalls: no function named")
	}
	// The module packages the functions link, from source; everything
	// else from export data.
	cfg := &packages.Config{Mode: packages.NeedName | packages.NeedDeps | packages.NeedImports, Dir: root,
		Env: append(os.Environ(), "CGO_ENABLED=0")}
	var mains []string
	for _, f := range functions {
		mains = append(mains, "./functions/"+f)
	}
	graph, err := packages.Load(cfg, mains...)
	if err != nil {
		return nil, fmt.Errorf("lambdacalls: list: %w", err)
	}
	closure := map[string]map[string]bool{} // function -> module packages it links
	var roots []string
	seenRoot := map[string]bool{}
	for _, m := range graph {
		name, ok := strings.CutPrefix(m.PkgPath, modulePath+"/functions/")
		if !ok || m.Name != "main" {
			return nil, fmt.Errorf("lambdacalls: %s: %w", m.PkgPath, ErrNoFunction)
		}
		deps := map[string]bool{}
		packages.Visit([]*packages.Package{m}, func(p *packages.Package) bool {
			if p.PkgPath != modulePath && !strings.HasPrefix(p.PkgPath, modulePath+"/") {
				return false
			}
			deps[p.PkgPath] = true
			if !seenRoot[p.PkgPath] {
				seenRoot[p.PkgPath] = true
				roots = append(roots, p.PkgPath)
			}
			return true
		}, nil)
		closure[name] = deps
	}
	cfg.Mode = packages.NeedName | packages.NeedFiles | packages.NeedSyntax | packages.NeedTypes |
		packages.NeedTypesInfo | packages.NeedImports
	pkgs, err := packages.Load(cfg, roots...)
	if err != nil {
		return nil, fmt.Errorf("lambdacalls: load: %w", err)
	}
	p := &program{decls: map[*types.Func]*ast.FuncDecl{}, info: map[*ast.FuncDecl]*types.Info{},
		pkgOf: map[*ast.FuncDecl]string{}, methods: map[string][]*types.Func{}, fields: map[*types.Var]string{}}
	byPath := map[string]*packages.Package{}
	for _, pkg := range pkgs {
		if len(pkg.Errors) > 0 {
			return nil, fmt.Errorf("lambdacalls: %s: %v", pkg.PkgPath, pkg.Errors[0])
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
				p.decls[fn], p.info[fd], p.pkgOf[fd] = fd, pkg.TypesInfo, pkg.PkgPath
				if fd.Recv != nil {
					p.methods[fn.Name()] = append(p.methods[fn.Name()], fn)
				}
			}
		}
	}
	if ops := byPath[ecsopsPath]; ops != nil {
		if tn, ok := ops.Types.Scope().Lookup("Clients").(*types.TypeName); ok {
			if st, ok := tn.Type().Underlying().(*types.Struct); ok {
				for i := range st.NumFields() {
					p.fields[st.Field(i)] = st.Field(i).Name()
				}
			}
		}
	}
	reports := map[string]*Report{}
	for _, name := range functions {
		pkg := byPath[modulePath+"/functions/"+name]
		if pkg == nil {
			return nil, fmt.Errorf("lambdacalls: functions/%s: %w", name, ErrNoFunction)
		}
		mainFn, ok := pkg.Types.Scope().Lookup("main").(*types.Func)
		if !ok {
			return nil, fmt.Errorf("lambdacalls: functions/%s has no main: %w", name, ErrNoFunction)
		}
		r := p.reach(mainFn, closure[name])
		r.Function = name
		reports[name] = r
	}
	return reports, nil
}

// reach walks the static call graph from root, within the packages the
// binary links. A method is reached through an interface call only once a
// value of its receiver type appears in reached code (as the linker keeps
// only the methods of types that can be in an interface).
func (p *program) reach(root *types.Func, linked map[string]bool) *Report {
	r := &Report{ClientsRead: map[string]string{}, ClientsWired: map[string]string{}, Actions: map[string]string{},
		Fields: map[string]string{}, Funcs: map[string]string{}}
	via := map[*types.Func]string{root: root.FullName()}
	queue := []*types.Func{root}
	live := map[*types.TypeName]string{}     // receiver types seen, with the path that made them
	ifaceCalls := map[string][]*types.Func{} // interface methods called, by name
	add := func(m map[string]string, key, path string) {
		if _, seen := m[key]; !seen {
			m[key] = path
		}
	}
	visit := func(callee *types.Func, path string) {
		if _, ok := p.decls[callee]; !ok {
			return
		}
		if _, seen := via[callee]; seen {
			return
		}
		via[callee] = path + " -> " + callee.FullName()
		queue = append(queue, callee)
	}
	recvName := func(m *types.Func) *types.TypeName {
		t := m.Type().(*types.Signature).Recv().Type()
		if ptr, ok := t.(*types.Pointer); ok {
			t = ptr.Elem()
		}
		if n, ok := t.(*types.Named); ok {
			return n.Origin().Obj()
		}
		return nil
	}
	for len(queue) > 0 {
		fn := queue[0]
		queue = queue[1:]
		fd := p.decls[fn]
		info := p.info[fd]
		path := via[fn]
		r.Funcs[fn.FullName()] = path
		writes := map[*ast.Ident]bool{}
		selOf := map[*ast.Ident]*ast.SelectorExpr{}
		ast.Inspect(fd.Body, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.SelectorExpr:
				selOf[n.Sel] = n
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
			if e, ok := n.(ast.Expr); ok {
				if tv, ok := info.Types[e]; ok && !tv.IsType() {
					if a := actionOf(tv.Type); a != "" {
						add(r.Actions, a, path)
					}
					if tn := namedOf(tv.Type); tn != nil && linked[pkgPath(tn)] {
						if _, seen := live[tn]; !seen {
							live[tn] = path
							for _, calls := range ifaceCalls {
								for _, call := range calls {
									for _, m := range p.methods[call.Name()] {
										if recvName(m) == tn && sameSignature(m, call) {
											visit(m, path)
										}
									}
								}
							}
						}
					}
				} else if ok && tv.IsType() {
					// var in ecs.XInput; new(ecs.XInput): the type names the operation too.
					if a := actionOf(tv.Type); a != "" {
						add(r.Actions, a, path)
					}
				}
			}
			if call, ok := n.(*ast.CallExpr); ok {
				if prefix, ok := rawCallers[calleeKey(info, call)]; ok && len(call.Args) > 1 {
					op := "?"
					if tv, ok := info.Types[call.Args[1]]; ok && tv.Value != nil && tv.Value.Kind() == constant.String {
						op = constant.StringVal(tv.Value)
					}
					add(r.Actions, prefix+":"+op, path)
				}
			}
			id, ok := n.(*ast.Ident)
			if !ok {
				return true
			}
			switch obj := info.Uses[id].(type) {
			case *types.Var:
				if key := fieldKey(info, selOf[id], obj); key != "" && !writes[id] {
					add(r.Fields, key, path)
				}
				name, ok := p.fields[obj.Origin()]
				if !ok {
					return true
				}
				if writes[id] {
					add(r.ClientsWired, name, path)
				} else {
					add(r.ClientsRead, name, path)
				}
			case *types.Func:
				obj = obj.Origin()
				if obj.Pkg() != nil && obj.Pkg().Path() == stscredsPkg && obj.Name() == "NewAssumeRoleProvider" {
					add(r.Actions, "sts:AssumeRole", path)
				}
				sig, ok := obj.Type().(*types.Signature)
				if !ok || sig.Recv() == nil || !types.IsInterface(sig.Recv().Type()) {
					visit(obj, path)
					return true
				}
				ifaceCalls[obj.Name()] = append(ifaceCalls[obj.Name()], obj)
				for _, m := range p.methods[obj.Name()] {
					tn := recvName(m)
					if _, isLive := live[tn]; isLive && linked[m.Pkg().Path()] && sameSignature(m, obj) {
						visit(m, path)
					}
				}
			}
			return true
		})
	}
	return r
}

// fieldKey names the module struct field a selector's id selects
// ("<package>.<Type>.<field>"), or "".
func fieldKey(info *types.Info, expr *ast.SelectorExpr, v *types.Var) string {
	if expr == nil || !v.IsField() || v.Pkg() == nil || !strings.HasPrefix(v.Pkg().Path(), modulePath) {
		return ""
	}
	sel, ok := info.Selections[expr]
	if !ok || sel.Kind() != types.FieldVal {
		return ""
	}
	tn := namedOf(sel.Recv())
	if tn == nil {
		return ""
	}
	return pkgPath(tn) + "." + tn.Name() + "." + v.Name()
}

// calleeKey names the method a call calls ("<package>.<type>.<method>"),
// or "".
func calleeKey(info *types.Info, call *ast.CallExpr) string {
	sel, ok := call.Fun.(*ast.SelectorExpr)
	if !ok {
		return ""
	}
	fn, ok := info.Uses[sel.Sel].(*types.Func)
	if !ok {
		return ""
	}
	sig := fn.Type().(*types.Signature)
	if sig.Recv() == nil {
		return ""
	}
	tn := namedOf(sig.Recv().Type())
	if tn == nil {
		return ""
	}
	return pkgPath(tn) + "." + tn.Name() + "." + fn.Name()
}

// namedOf is the named type t is or points to.
func namedOf(t types.Type) *types.TypeName {
	if ptr, ok := t.(*types.Pointer); ok {
		t = ptr.Elem()
	}
	if n, ok := t.(*types.Named); ok {
		return n.Origin().Obj()
	}
	return nil
}

func pkgPath(tn *types.TypeName) string {
	if tn.Pkg() == nil {
		return ""
	}
	return tn.Pkg().Path()
}

// sameSignature reports whether method m has iface's parameters and
// results (the linker keeps a method for an interface call by name and
// signature).
func sameSignature(m, iface *types.Func) bool {
	a, ok1 := m.Type().(*types.Signature)
	b, ok2 := iface.Type().(*types.Signature)
	if !ok1 || !ok2 {
		return false
	}
	return types.Identical(types.NewSignatureType(nil, nil, nil, a.Params(), a.Results(), a.Variadic()),
		types.NewSignatureType(nil, nil, nil, b.Params(), b.Results(), b.Variadic()))
}

// actionOf names the operation whose input type t is (or points to), or
// the item action of a DynamoDB transaction item type; "" otherwise.
func actionOf(t types.Type) string {
	if ptr, ok := t.(*types.Pointer); ok {
		t = ptr.Elem()
	}
	named, ok := t.(*types.Named)
	if !ok || named.Obj().Pkg() == nil {
		return ""
	}
	svc, ok := strings.CutPrefix(named.Obj().Pkg().Path(), servicePath)
	if !ok {
		return ""
	}
	name := named.Obj().Name()
	if svc == "dynamodb/types" {
		return transactItem[name]
	}
	if strings.Contains(svc, "/") {
		return ""
	}
	op, ok := strings.CutSuffix(name, "Input")
	if !ok || op == "" {
		return ""
	}
	if op == "TransactWriteItems" || op == "TransactGetItems" {
		return "" // authorised through their items
	}
	prefix := svc
	if p, ok := iamPrefix[svc]; ok {
		prefix = p
	}
	return prefix + ":" + op
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
