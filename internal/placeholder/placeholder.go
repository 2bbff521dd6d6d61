// Package placeholder is the grammar of the ${namespace.name} references a
// service's container definitions may hold: finding them in a string,
// replacing them, and listing the workflow variables
// (${workflow.variables.NAME}) a template needs. The deployment engine
// (internal/steps) fills them; the API checks, before it records a
// deployment, that every workflow variable a template uses has a value.
// It imports only the standard library, so the API Lambda may link it.
package placeholder

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// pattern is a reference: ${namespace.name}, the namespace a letter then
// letters, digits or '_', the name letters, digits, '_', '.' or '-'.
var pattern = regexp.MustCompile(`\$\{([A-Za-z][A-Za-z0-9_]*)\.([A-Za-z0-9_.-]+)\}`)

// workflowVariables is the namespace and name prefix of a workflow variable.
const (
	workflowNamespace = "workflow"
	variablesPrefix   = "variables."
)

// Ref is one reference in a string.
type Ref struct {
	// Token is the reference as written, "${workflow.variables.TAG}".
	Token string
	// Namespace is what precedes the first '.', "workflow".
	Namespace string
	// Name is what follows it, "variables.TAG".
	Name string
}

// WorkflowVariable is the variable a ${workflow.variables.NAME} reference
// names, and whether r is one.
func (r Ref) WorkflowVariable() (string, bool) {
	if r.Namespace != workflowNamespace {
		return "", false
	}
	name, ok := strings.CutPrefix(r.Name, variablesPrefix)
	if !ok {
		return "", false
	}
	return name, true
}

func refOf(m []string) Ref { return Ref{Token: m[0], Namespace: m[1], Name: m[2]} }

// Find returns the references in s, in order, repeats included.
func Find(s string) []Ref {
	ms := pattern.FindAllStringSubmatch(s, -1)
	if len(ms) == 0 {
		return nil
	}
	out := make([]Ref, 0, len(ms))
	for _, m := range ms {
		out = append(out, refOf(m))
	}
	return out
}

// Replace returns s with every reference replaced by what f answers for it.
// Replacements are not scanned again.
func Replace(s string, f func(Ref) string) string {
	if !strings.Contains(s, "${") {
		return s
	}
	return pattern.ReplaceAllStringFunc(s, func(tok string) string {
		return f(refOf(pattern.FindStringSubmatch(tok)))
	})
}

// WorkflowVariables returns the names of the workflow variables that the
// string values of a JSON document (a service's container definitions)
// reference, sorted, each once. Object keys are not values and are not
// scanned. A document that is not JSON is an error.
func WorkflowVariables(doc json.RawMessage) ([]string, error) {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("decode template: %w", err)
	}
	var names []string
	eachString(v, func(s string) {
		for _, r := range Find(s) {
			if n, ok := r.WorkflowVariable(); ok {
				names = append(names, n)
			}
		}
	})
	slices.Sort(names)
	return slices.Compact(names), nil
}

// MissingWorkflowVariables returns the workflow variables doc references
// that vars has no entry for (an empty value counts as given), sorted, each
// once. A document that is not JSON is an error.
func MissingWorkflowVariables(doc json.RawMessage, vars map[string]string) ([]string, error) {
	names, err := WorkflowVariables(doc)
	if err != nil {
		return nil, err
	}
	missing := names[:0]
	for _, n := range names {
		if _, ok := vars[n]; !ok {
			missing = append(missing, n)
		}
	}
	if len(missing) == 0 {
		return nil, nil
	}
	return missing, nil
}

func eachString(v any, f func(string)) {
	switch x := v.(type) {
	case string:
		f(x)
	case []any:
		for _, e := range x {
			eachString(e, f)
		}
	case map[string]any:
		for _, e := range x {
			eachString(e, f)
		}
	}
}
