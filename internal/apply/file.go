// Package apply is ecsflow's configuration as code: one YAML file holds
// every entity, references are by name, and Apply makes the API match it —
// creating what is missing, updating what differs and leaving the rest
// alone, so that a second apply changes nothing.
//
// The file's shape:
//
//	cloudProviders:  [CloudProvider...]
//	artifactServers: [ArtifactServer...]     # cloudProviderId: <cloud provider name>
//	applications:
//	  - name: shop                           # Application fields
//	    services: [Service...]               # artifact.serverId: <artifact server name>
//	    environments:
//	      - name: dev                        # Environment fields; serviceOverrides keyed by service name
//	        infrastructures: [InfrastructureDefinition...]   # cloudProviderId: <name>
//	    workflows: [Workflow...]             # envId, infraId, serviceId: names
//	    pipelines: [Pipeline...]             # stages[].workflowId / serviceId: names
//	    triggers:  [Trigger...]              # artifactServerId, workflowId, pipelineId, serviceId: names
//
// Each entity uses the API's JSON field names (internal/model). Every field
// that holds an ID in the API holds the referenced entity's name here; appId
// and envId come from where the entity sits in the file.
package apply

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"

	"github.com/ecsflow/ecsflow/internal/model"
)

// Problem is one thing wrong with a file, at a line.
type Problem struct {
	Line    int    `json:"line"`
	Entity  string `json:"entity,omitempty"` // e.g. Workflow shop/dev-canary
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
}

func (p Problem) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "line %d:", p.Line)
	if p.Entity != "" {
		b.WriteString(" " + p.Entity)
	}
	if p.Field != "" {
		b.WriteString(" " + p.Field)
	}
	b.WriteString(": " + p.Message)
	return b.String()
}

// InvalidError lists every problem found in a file; nothing was written.
type InvalidError struct {
	File     string
	Problems []Problem
}

func (e *InvalidError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s is invalid (%d problem(s)), nothing was applied:", e.File, len(e.Problems))
	for _, p := range e.Problems {
		b.WriteString("\n  " + p.String())
	}
	return b.String()
}

// Item is one entity of the file, with reference fields still holding names.
type Item struct {
	Entity model.Entity
	// App and Env are the names of the application and environment the
	// entity sits under ("" when not applicable).
	App, Env string
	Line     int
	node     ast.Node
}

// Label names the item for people: Kind app/env/name.
func (it *Item) Label() string {
	parts := []string{}
	if it.App != "" && it.Entity.Kind() != model.KindApplication {
		parts = append(parts, it.App)
	}
	if it.Env != "" && it.Entity.Kind() == model.KindInfrastructure {
		parts = append(parts, it.Env)
	}
	parts = append(parts, name(it.Entity))
	return string(it.Entity.Kind()) + " " + strings.Join(parts, "/")
}

func name(e model.Entity) string {
	if inf, ok := e.(*model.InfrastructureDefinition); ok {
		return inf.Name
	}
	return e.EntityName()
}

// File is a parsed configuration: its items in dependency order.
type File struct {
	Name  string
	Items []*Item
}

// Parse reads a configuration file. Every problem it can find (syntax,
// unknown or mistyped fields, duplicate names, entity validation) is
// returned at once in an *InvalidError. When everything decoded and only
// validation failed, the file is returned too, so that the caller can
// collect MakePlan's reference problems and Merge them.
func Parse(filename string, src []byte) (*File, error) {
	f := &File{Name: filename}
	var probs []Problem
	bad := func(line int, entity, field, msg string) {
		probs = append(probs, Problem{Line: line, Entity: entity, Field: field, Message: msg})
	}
	doc, err := parser.ParseBytes(src, 0)
	if err != nil {
		line, msg := errPos(err)
		bad(line, "", "", msg)
		return nil, &InvalidError{File: filename, Problems: probs}
	}
	if len(doc.Docs) != 1 || doc.Docs[0].Body == nil {
		bad(1, "", "", "want exactly one YAML document")
		return nil, &InvalidError{File: filename, Problems: probs}
	}
	top, ok := mappingOf(doc.Docs[0].Body)
	if !ok {
		bad(lineOf(doc.Docs[0].Body), "", "", "the file must be a mapping with cloudProviders, artifactServers and applications")
		return nil, &InvalidError{File: filename, Problems: probs}
	}
	decode := func(kind model.Kind, node ast.Node, app, env string) *Item {
		e, _ := model.New(kind)
		label := string(kind)
		if err := yaml.NodeToValue(node, e, yaml.DisallowUnknownField(), yaml.UseJSONUnmarshaler()); err != nil {
			line, msg := errPos(err)
			if line == 0 {
				line = lineOf(node)
			}
			bad(line, label, pathAtLine(node, "", line), msg)
			return nil
		}
		it := &Item{Entity: e, App: app, Env: env, Line: lineOf(node), node: node}
		f.Items = append(f.Items, it)
		return it
	}
	seq := func(v *ast.MappingValueNode, what string) []ast.Node {
		if v == nil {
			return nil
		}
		if _, isNull := v.Value.(*ast.NullNode); isNull {
			return nil
		}
		s, ok := v.Value.(*ast.SequenceNode)
		if !ok {
			bad(lineOf(v.Value), "", what, "must be a list")
			return nil
		}
		return s.Values
	}
	rest, children, err := split(top, "cloudProviders", "artifactServers", "applications")
	if err != nil {
		bad(lineOf(top), "", "", err.Error())
	}
	for _, v := range rest.Values {
		bad(lineOf(v.Key), "", keyOf(v), "unknown top-level key (want cloudProviders, artifactServers, applications)")
	}
	for _, n := range seq(children["cloudProviders"], "cloudProviders") {
		decode(model.KindCloudProvider, n, "", "")
	}
	for _, n := range seq(children["artifactServers"], "artifactServers") {
		decode(model.KindArtifactServer, n, "", "")
	}
	for _, an := range seq(children["applications"], "applications") {
		am, ok := mappingOf(an)
		if !ok {
			bad(lineOf(an), "Application", "", "must be a mapping")
			continue
		}
		arest, ach, err := split(am, "services", "environments", "workflows", "pipelines", "triggers")
		if err != nil {
			bad(lineOf(am), "Application", "", err.Error())
			continue
		}
		appItem := decode(model.KindApplication, arest, "", "")
		if appItem == nil {
			continue
		}
		app := appItem.Entity.EntityName()
		appItem.App = app
		for _, n := range seq(ach["services"], "services") {
			decode(model.KindService, n, app, "")
		}
		for _, en := range seq(ach["environments"], "environments") {
			em, ok := mappingOf(en)
			if !ok {
				bad(lineOf(en), "Environment", "", "must be a mapping")
				continue
			}
			erest, ech, err := split(em, "infrastructures")
			if err != nil {
				bad(lineOf(em), "Environment", "", err.Error())
				continue
			}
			envItem := decode(model.KindEnvironment, erest, app, "")
			if envItem == nil {
				continue
			}
			env := envItem.Entity.EntityName()
			envItem.Env = env
			for _, n := range seq(ech["infrastructures"], "infrastructures") {
				decode(model.KindInfrastructure, n, app, env)
			}
		}
		for _, n := range seq(ach["workflows"], "workflows") {
			decode(model.KindWorkflow, n, app, "")
		}
		for _, n := range seq(ach["pipelines"], "pipelines") {
			decode(model.KindPipeline, n, app, "")
		}
		for _, n := range seq(ach["triggers"], "triggers") {
			decode(model.KindTrigger, n, app, "")
		}
	}
	// Dependency order, stable within a kind.
	rank := map[model.Kind]int{}
	for i, k := range model.Kinds {
		rank[k] = i
	}
	sort.SliceStable(f.Items, func(i, j int) bool {
		return rank[f.Items[i].Entity.Kind()] < rank[f.Items[j].Entity.Kind()]
	})
	// Duplicate names and fields that the file's nesting decides.
	seen := map[string]int{}
	for _, it := range f.Items {
		if n := name(it.Entity); n != "" {
			key := it.Label()
			if first, dup := seen[key]; dup {
				bad(it.Line, it.Label(), "name", fmt.Sprintf("is already used at line %d", first))
			} else {
				seen[key] = it.Line
			}
		}
		for _, fld := range nestingFields(it.Entity) {
			bad(it.fieldLine(fld), it.Label(), fld, "is set by where the entity sits in the file; remove it")
		}
	}
	if len(probs) > 0 {
		return nil, &InvalidError{File: filename, Problems: sortProblems(probs)}
	}
	// Each entity's own validation, with names standing in for IDs. The
	// file is returned with these problems, so that MakePlan can add the
	// reference problems and Merge report everything in one run.
	for _, it := range f.Items {
		probs = append(probs, validateNamed(it)...)
	}
	if len(probs) > 0 {
		return f, &InvalidError{File: filename, Problems: sortProblems(probs)}
	}
	return f, nil
}

// Merge combines the problems of *InvalidErrors (dropping duplicates) into
// one *InvalidError; any other non-nil error is returned as it is.
func Merge(errs ...error) error {
	var out *InvalidError
	seen := map[Problem]bool{}
	for _, err := range errs {
		if err == nil {
			continue
		}
		var ie *InvalidError
		if !errors.As(err, &ie) {
			return err
		}
		if out == nil {
			out = &InvalidError{File: ie.File}
		}
		for _, p := range ie.Problems {
			if !seen[p] {
				seen[p] = true
				out.Problems = append(out.Problems, p)
			}
		}
	}
	if out == nil {
		return nil
	}
	out.Problems = sortProblems(out.Problems)
	return out
}

// validateNamed validates a copy of the item with its application and
// environment names in the ID fields the file's nesting decides.
func validateNamed(it *Item) []Problem {
	e := clone(it.Entity)
	switch t := e.(type) {
	case *model.Service:
		t.ApplicationID = it.App
	case *model.Environment:
		t.ApplicationID = it.App
	case *model.InfrastructureDefinition:
		t.ApplicationID, t.EnvironmentID = it.App, it.Env
	case *model.Workflow:
		t.ApplicationID = it.App
	case *model.Pipeline:
		t.ApplicationID = it.App
	case *model.Trigger:
		t.ApplicationID = it.App
	}
	r := &resolver{}
	r.validate(it, e)
	return r.probs
}

// nestingFields lists appId/envId fields the file must not set itself.
func nestingFields(e model.Entity) []string {
	var out []string
	if e.AppID() != "" {
		out = append(out, "appId")
	}
	if inf, ok := e.(*model.InfrastructureDefinition); ok && inf.EnvironmentID != "" {
		out = append(out, "envId")
	}
	return out
}

func sortProblems(ps []Problem) []Problem {
	sort.SliceStable(ps, func(i, j int) bool { return ps[i].Line < ps[j].Line })
	return ps
}

// fieldLine finds the line of a field path such as
// "strategy.canary.phases[1].percent" in the item's node, falling back to
// the nearest existing parent and then to the entity's own line.
func (it *Item) fieldLine(field string) int {
	if it.node == nil || field == "" {
		return it.Line
	}
	p := field
	for p != "" {
		if path, err := yaml.PathString("$." + p); err == nil {
			if n, err := path.FilterNode(it.node); err == nil && n != nil {
				return lineOf(n)
			}
		}
		i := strings.LastIndexAny(p, ".[")
		if i <= 0 {
			break
		}
		p = p[:i]
	}
	return it.Line
}

func mappingOf(n ast.Node) (*ast.MappingNode, bool) {
	switch t := n.(type) {
	case *ast.MappingNode:
		return t, true
	case *ast.MappingValueNode:
		return &ast.MappingNode{BaseNode: t.BaseNode, Start: t.GetToken(), Values: []*ast.MappingValueNode{t}}, true
	case *ast.TagNode:
		return mappingOf(t.Value)
	}
	return nil, false
}

func keyOf(v *ast.MappingValueNode) string {
	return strings.Trim(v.Key.String(), `"' `)
}

// split separates the given child keys from the rest of a mapping.
func split(m *ast.MappingNode, keys ...string) (*ast.MappingNode, map[string]*ast.MappingValueNode, error) {
	rest := &ast.MappingNode{BaseNode: m.BaseNode, Start: m.Start, End: m.End, IsFlowStyle: m.IsFlowStyle}
	children := map[string]*ast.MappingValueNode{}
	for _, v := range m.Values {
		k := keyOf(v)
		found := false
		for _, want := range keys {
			if k == want {
				found = true
			}
		}
		if found {
			if _, dup := children[k]; dup {
				return rest, children, fmt.Errorf("key %s appears twice", k)
			}
			children[k] = v
			continue
		}
		rest.Values = append(rest.Values, v)
	}
	return rest, children, nil
}

func lineOf(n ast.Node) int {
	if n == nil {
		return 0
	}
	if mv, ok := n.(*ast.MappingNode); ok && len(mv.Values) > 0 {
		return lineOf(mv.Values[0].Key)
	}
	if mv, ok := n.(*ast.MappingValueNode); ok {
		return lineOf(mv.Key)
	}
	if tk := n.GetToken(); tk != nil && tk.Position != nil {
		return tk.Position.Line
	}
	return 0
}

// errPos extracts the line and message of a go-yaml error.
func errPos(err error) (int, string) {
	var ye yaml.Error
	if errors.As(err, &ye) {
		line := 0
		if tk := ye.GetToken(); tk != nil && tk.Position != nil {
			line = tk.Position.Line
		}
		return line, ye.GetMessage()
	}
	return 0, err.Error()
}

// pathAtLine is the dotted path of the deepest key on line within n.
func pathAtLine(n ast.Node, prefix string, line int) string {
	switch t := n.(type) {
	case *ast.MappingNode:
		for _, v := range t.Values {
			if p := pathAtLine(v, prefix, line); p != "" {
				return p
			}
		}
	case *ast.MappingValueNode:
		p := keyOf(t)
		if prefix != "" {
			p = prefix + "." + p
		}
		if sub := pathAtLine(t.Value, p, line); sub != "" {
			return sub
		}
		if lineOf(t.Key) == line {
			return p
		}
	case *ast.SequenceNode:
		for i, v := range t.Values {
			if p := pathAtLine(v, fmt.Sprintf("%s[%d]", prefix, i), line); p != "" {
				return p
			}
		}
	case *ast.TagNode:
		return pathAtLine(t.Value, prefix, line)
	}
	return ""
}
