package apply

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"sort"
	"strings"

	"github.com/ecsflow/ecsflow/internal/client"
	"github.com/ecsflow/ecsflow/internal/model"
)

// API is what apply needs from the ecsflow API; *client.Client has it.
type API interface {
	List(ctx context.Context, kind model.Kind, s client.Scope) ([]model.Entity, error)
	Get(ctx context.Context, kind model.Kind, s client.Scope, id string) (model.Entity, string, error)
	Create(ctx context.Context, e model.Entity) (model.Entity, error)
	Update(ctx context.Context, id, etag string, e model.Entity) (model.Entity, error)
}

var _ API = (*client.Client)(nil)

// Action is what apply does to one entity.
type Action string

// Actions.
const (
	Create    Action = "create"
	Update    Action = "update"
	Unchanged Action = "unchanged"
)

// Change is one entity's planned action.
type Change struct {
	Action Action `json:"action"`
	Kind   string `json:"kind"`
	Name   string `json:"name"` // app/env/name
	Line   int    `json:"line"`
	// ID is the existing entity's ID (updates, unchanged) or, after Apply,
	// the created one's.
	ID string `json:"id,omitempty"`
	// Fields are the changed fields of an update.
	Fields []string `json:"fields,omitempty"`
	item   *Item
}

// Plan is the list of changes, in the order Apply performs them.
type Plan struct {
	Changes []*Change `json:"changes"`
	// state is the existing entities, by key, for Apply.
	existing map[string]model.Entity
}

// Counts returns how many creates, updates and unchanged entities the plan has.
func (p *Plan) Counts() (create, update, unchanged int) {
	for _, c := range p.Changes {
		switch c.Action {
		case Create:
			create++
		case Update:
			update++
		default:
			unchanged++
		}
	}
	return
}

// Empty reports whether the plan changes nothing.
func (p *Plan) Empty() bool {
	c, u, _ := p.Counts()
	return c == 0 && u == 0
}

// Write prints the plan: one line per entity, then a summary line.
func (p *Plan) Write(w io.Writer) {
	for _, c := range p.Changes {
		switch c.Action {
		case Create:
			fmt.Fprintf(w, "+ create    %-24s %s\n", c.Kind, c.Name)
		case Update:
			fmt.Fprintf(w, "~ update    %-24s %s (%s)\n", c.Kind, c.Name, strings.Join(c.Fields, ", "))
		default:
			fmt.Fprintf(w, "= unchanged %-24s %s\n", c.Kind, c.Name)
		}
	}
	cr, up, un := p.Counts()
	if cr == 0 && up == 0 {
		fmt.Fprintf(w, "No changes: all %d entities are up to date.\n", un)
		return
	}
	fmt.Fprintf(w, "Plan: %d to create, %d to update, %d unchanged.\n", cr, up, un)
}

// key identifies an entity by kind and names.
func key(kind model.Kind, names ...string) string {
	return string(kind) + "|" + strings.Join(names, "|")
}

func itemKey(it *Item) string {
	switch it.Entity.Kind() {
	case model.KindApplication, model.KindCloudProvider, model.KindArtifactServer:
		return key(it.Entity.Kind(), name(it.Entity))
	case model.KindInfrastructure:
		return key(it.Entity.Kind(), it.App, it.Env, name(it.Entity))
	}
	return key(it.Entity.Kind(), it.App, name(it.Entity))
}

// state loads the existing entities the file could name, keyed like itemKey.
func state(ctx context.Context, api API, f *File) (map[string]model.Entity, error) {
	out := map[string]model.Entity{}
	add := func(kind model.Kind, s client.Scope, names ...string) ([]model.Entity, error) {
		es, err := api.List(ctx, kind, s)
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", kind, err)
		}
		for _, e := range es {
			out[key(kind, append(names, name(e))...)] = e
		}
		return es, nil
	}
	for _, k := range []model.Kind{model.KindCloudProvider, model.KindArtifactServer} {
		if _, err := add(k, client.Scope{}); err != nil {
			return nil, err
		}
	}
	apps, err := add(model.KindApplication, client.Scope{})
	if err != nil {
		return nil, err
	}
	inFile := map[string]bool{}
	for _, it := range f.Items {
		if it.Entity.Kind() == model.KindApplication {
			inFile[name(it.Entity)] = true
		}
	}
	for _, a := range apps {
		an := name(a)
		if !inFile[an] {
			continue
		}
		s := client.Scope{AppID: a.GetMeta().ID}
		for _, k := range []model.Kind{model.KindService, model.KindWorkflow, model.KindPipeline, model.KindTrigger} {
			if _, err := add(k, s, an); err != nil {
				return nil, err
			}
		}
		envs, err := add(model.KindEnvironment, s, an)
		if err != nil {
			return nil, err
		}
		for _, e := range envs {
			if _, err := add(model.KindInfrastructure, client.Scope{AppID: s.AppID, EnvID: e.GetMeta().ID}, an, name(e)); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// resolver turns names into IDs.
type resolver struct {
	ids   map[string]string // itemKey -> ID
	probs []Problem
}

func (r *resolver) ref(it *Item, field string, v *string, kind model.Kind, names ...string) {
	if *v == "" {
		return
	}
	id, ok := r.ids[key(kind, append(names, *v)...)]
	if !ok {
		where := ""
		if len(names) > 0 {
			where = " in " + strings.Join(names, "/")
		}
		r.probs = append(r.probs, Problem{Line: it.fieldLine(field), Entity: it.Label(), Field: field,
			Message: fmt.Sprintf("no %s named %q%s", kind, *v, where)})
		return
	}
	*v = id
}

func clone(e model.Entity) model.Entity {
	b, _ := json.Marshal(e)
	out, _ := model.New(e.Kind())
	_ = json.Unmarshal(b, out)
	return out
}

// resolve returns the item's entity with every name replaced by an ID.
func (r *resolver) resolve(it *Item) model.Entity {
	e := clone(it.Entity)
	*e.GetMeta() = model.Meta{}
	app := r.ids[key(model.KindApplication, it.App)]
	switch t := e.(type) {
	case *model.ArtifactServer:
		r.ref(it, "cloudProviderId", &t.CloudProviderID, model.KindCloudProvider)
	case *model.Service:
		t.ApplicationID = app
		r.ref(it, "artifact.serverId", &t.Artifact.ServerID, model.KindArtifactServer)
	case *model.Environment:
		t.ApplicationID = app
		if len(t.ServiceOverrides) > 0 {
			m := make(map[string]model.Overrides, len(t.ServiceOverrides))
			for n, o := range t.ServiceOverrides {
				id := n
				r.ref(it, "serviceOverrides."+n, &id, model.KindService, it.App)
				m[id] = o
			}
			t.ServiceOverrides = m
		}
	case *model.InfrastructureDefinition:
		t.ApplicationID = app
		t.EnvironmentID = r.ids[key(model.KindEnvironment, it.App, it.Env)]
		r.ref(it, "cloudProviderId", &t.CloudProviderID, model.KindCloudProvider)
	case *model.Workflow:
		t.ApplicationID = app
		envName := t.EnvironmentID
		r.ref(it, "envId", &t.EnvironmentID, model.KindEnvironment, it.App)
		r.ref(it, "infraId", &t.InfrastructureID, model.KindInfrastructure, it.App, envName)
		r.ref(it, "serviceId", &t.ServiceID, model.KindService, it.App)
	case *model.Pipeline:
		t.ApplicationID = app
		for i := range t.Stages {
			s := &t.Stages[i]
			r.ref(it, fmt.Sprintf("stages[%d].workflowId", i), &s.WorkflowID, model.KindWorkflow, it.App)
			r.ref(it, fmt.Sprintf("stages[%d].serviceId", i), &s.ServiceID, model.KindService, it.App)
		}
	case *model.Trigger:
		t.ApplicationID = app
		r.ref(it, "artifactServerId", &t.ArtifactServerID, model.KindArtifactServer)
		r.ref(it, "workflowId", &t.WorkflowID, model.KindWorkflow, it.App)
		r.ref(it, "pipelineId", &t.PipelineID, model.KindPipeline, it.App)
		r.ref(it, "serviceId", &t.ServiceID, model.KindService, it.App)
	}
	return e
}

// validate adds the entity's own validation problems, at their lines.
func (r *resolver) validate(it *Item, e model.Entity) {
	err := e.Validate()
	if err == nil {
		return
	}
	var ve *model.ValidationError
	if !errors.As(err, &ve) {
		r.probs = append(r.probs, Problem{Line: it.Line, Entity: it.Label(), Message: err.Error()})
		return
	}
	for _, f := range ve.Fields {
		r.probs = append(r.probs, Problem{Line: it.fieldLine(f.Field), Entity: it.Label(), Field: f.Field, Message: f.Message})
	}
}

// canonical is an entity as generic JSON without its metadata.
func canonical(e model.Entity) map[string]any {
	c := clone(e)
	*c.GetMeta() = model.Meta{}
	b, _ := json.Marshal(c)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	for _, k := range []string{"id", "version", "createdAt", "updatedAt"} {
		delete(m, k)
	}
	return m
}

// diff lists the paths where a and b differ.
func diff(prefix string, a, b any, out *[]string) {
	am, aok := a.(map[string]any)
	bm, bok := b.(map[string]any)
	if aok && bok {
		keys := map[string]bool{}
		for k := range am {
			keys[k] = true
		}
		for k := range bm {
			keys[k] = true
		}
		sorted := make([]string, 0, len(keys))
		for k := range keys {
			sorted = append(sorted, k)
		}
		sort.Strings(sorted)
		for _, k := range sorted {
			p := k
			if prefix != "" {
				p = prefix + "." + k
			}
			diff(p, am[k], bm[k], out)
		}
		return
	}
	as, aok := a.([]any)
	bs, bok := b.([]any)
	if aok && bok && len(as) == len(bs) {
		for i := range as {
			diff(fmt.Sprintf("%s[%d]", prefix, i), as[i], bs[i], out)
		}
		return
	}
	if !reflect.DeepEqual(a, b) {
		*out = append(*out, prefix)
	}
}

// MakePlan compares the file with the API's state. Names that resolve to
// nothing and entities that fail validation are refused together in an
// *InvalidError with their lines; nothing is written.
func MakePlan(ctx context.Context, api API, f *File) (*Plan, error) {
	existing, err := state(ctx, api, f)
	if err != nil {
		return nil, err
	}
	r := &resolver{ids: map[string]string{}}
	for k, e := range existing {
		r.ids[k] = e.GetMeta().ID
	}
	p := &Plan{existing: existing}
	for _, it := range f.Items {
		k := itemKey(it)
		cur, exists := existing[k]
		if !exists {
			r.ids[k] = "new-" + model.NewID(it.Entity.Kind()) // a placeholder until created
		}
		want := r.resolve(it)
		r.validate(it, want)
		c := &Change{Kind: string(it.Entity.Kind()), Name: strings.TrimPrefix(it.Label(), string(it.Entity.Kind())+" "), Line: it.Line, item: it}
		switch {
		case !exists:
			c.Action = Create
		default:
			c.ID = cur.GetMeta().ID
			diff("", canonical(cur), canonical(want), &c.Fields)
			c.Action = Unchanged
			if len(c.Fields) > 0 {
				c.Action = Update
			}
		}
		p.Changes = append(p.Changes, c)
	}
	if len(r.probs) > 0 {
		return nil, &InvalidError{File: f.Name, Problems: sortProblems(r.probs)}
	}
	return p, nil
}

// Apply performs a plan's creates and updates in order. It stops at the
// first refusal, naming the entity and its line (and each refused field's
// line); what was written before stays written and a new plan shows it.
func Apply(ctx context.Context, api API, p *Plan) error {
	r := &resolver{ids: map[string]string{}}
	for k, e := range p.existing {
		r.ids[k] = e.GetMeta().ID
	}
	for _, c := range p.Changes {
		it := c.item
		want := r.resolve(it)
		if len(r.probs) > 0 {
			return &InvalidError{File: "plan", Problems: r.probs}
		}
		switch c.Action {
		case Create:
			got, err := api.Create(ctx, want)
			if err != nil {
				return refused(it, "create", err)
			}
			c.ID = got.GetMeta().ID
		case Update:
			_, etag, err := api.Get(ctx, want.Kind(), client.ScopeOf(want), c.ID)
			if err != nil {
				return fmt.Errorf("%s (line %d): read before update: %w", it.Label(), it.Line, err)
			}
			if _, err := api.Update(ctx, c.ID, etag, want); err != nil {
				return refused(it, "update", err)
			}
		}
		r.ids[itemKey(it)] = c.ID
	}
	return nil
}

// refused explains an API refusal, with the line of every field it names.
func refused(it *Item, verb string, err error) error {
	var ce *client.Error
	if errors.As(err, &ce) && len(ce.Fields) > 0 {
		ie := &InvalidError{File: fmt.Sprintf("%s refused by the API (%d)", it.Label(), ce.Status)}
		for _, f := range ce.Fields {
			ie.Problems = append(ie.Problems, Problem{Line: it.fieldLine(f.Field), Entity: it.Label(), Field: f.Field, Message: f.Message})
		}
		return fmt.Errorf("%s %s (line %d): %w", verb, it.Label(), it.Line, ie)
	}
	return fmt.Errorf("%s %s (line %d): %w", verb, it.Label(), it.Line, err)
}
