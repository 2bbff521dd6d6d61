package steps

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/ecsflow/ecsflow/internal/model"
	"github.com/ecsflow/ecsflow/internal/placeholder"
)

// RenderValues are what a service's container template is filled with.
type RenderValues struct {
	App, Service, Env string
	Artifact          model.Artifact
	// Variables are the service's variables after environment overrides
	// (${serviceVariable.NAME}).
	Variables map[string]string
	// WorkflowVariables are the deployment's variables (a pipeline
	// execution's, for its stages): ${workflow.variables.NAME}. They also
	// win over Variables of the same name, as Harness's workflow variables
	// override service variables.
	WorkflowVariables map[string]string
	// EnvVars are the environment's variables, set in every container's
	// environment (overriding the template's of the same name).
	EnvVars map[string]string
	// Secrets go to the first essential container's secrets, as ARNs.
	Secrets []model.Secret
}

var secretARNRE = regexp.MustCompile(`^arn:aws[a-z-]*:(secretsmanager|ssm):[a-z0-9-]+:[0-9]{12}:.+`)

// UnresolvedError names the placeholders of a template that have no value
// (an unknown variable, an artifact without a tag). RenderContainers
// returns it wrapped in Invalid, so the step fails with the ASL error
// "Invalid" and the deployment's reason names every one of them.
type UnresolvedError struct {
	// Placeholders are the unresolved placeholders, sorted, each once.
	Placeholders []string
}

func (e *UnresolvedError) Error() string {
	return "no value for " + strings.Join(e.Placeholders, ", ")
}

// RenderContainers fills the template and returns ECS container
// definitions. Every string of the container definitions (image, command,
// environment values, log options, ...) may hold placeholders:
//
//   - ${artifact.image} is the image pinned to its digest when one is known
//     (else image:tag); ${artifact.tag} is the tag, and ":${artifact.tag}"
//     becomes "@<digest>" when a digest is known; ${artifact.digest};
//   - ${env.name}, ${service.name} and ${app.name};
//   - ${serviceVariable.NAME}: the deployment's variable NAME if it has one,
//     else the service's variable after the environment's overrides
//     (service-specific over environment-wide over the service's own);
//   - ${workflow.variables.NAME}: the deployment's variable NAME (for a
//     pipeline stage, the pipeline execution's variables).
//
// The grammar of a placeholder is internal/placeholder's, which the API
// also uses to refuse a deployment missing a workflow variable up front;
// this check stays as the safety net. Other namespaces (a shell's
// ${HOME.x}) are left alone. A placeholder that
// cannot be filled (an *UnresolvedError), a secret that is not a Secrets
// Manager or SSM ARN, a field ECS does not know, or a template that is not
// a JSON array of objects is Invalid.
func RenderContainers(template json.RawMessage, v RenderValues) ([]ecstypes.ContainerDefinition, error) {
	dec := json.NewDecoder(bytes.NewReader(template))
	dec.UseNumber()
	var defs []map[string]any
	if err := dec.Decode(&defs); err != nil {
		return nil, invalidf("container definitions: not a JSON array of objects: %v", err)
	}
	if len(defs) == 0 {
		return nil, invalidf("container definitions: none")
	}
	var missing []string
	fill := func(s string) string {
		if v.Artifact.Digest != "" && v.Artifact.Image != "" {
			s = strings.ReplaceAll(s, ":${artifact.tag}", "@"+v.Artifact.Digest)
		}
		return placeholder.Replace(s, func(ref placeholder.Ref) string {
			ns, name := ref.Namespace, ref.Name
			val, ok := "", false
			switch ns {
			case "artifact":
				switch name {
				case "image":
					val, ok = v.Artifact.Reference(), v.Artifact.Image != ""
				case "tag":
					val, ok = v.Artifact.Tag, v.Artifact.Tag != ""
					if !ok && v.Artifact.Digest != "" {
						val, ok = v.Artifact.Digest, true
					}
				case "digest":
					val, ok = v.Artifact.Digest, v.Artifact.Digest != ""
				}
			case "env":
				val, ok = v.Env, name == "name"
			case "service":
				val, ok = v.Service, name == "name"
			case "app":
				val, ok = v.App, name == "name"
			case "serviceVariable":
				if val, ok = v.WorkflowVariables[name]; !ok {
					val, ok = v.Variables[name]
				}
			case "workflow":
				if wv, found := ref.WorkflowVariable(); found {
					val, ok = v.WorkflowVariables[wv]
				}
			default:
				// Not ours (e.g. a shell variable in a command): leave it.
				return ref.Token
			}
			if !ok {
				missing = append(missing, ref.Token)
				return ref.Token
			}
			return val
		})
	}
	for i := range defs {
		defs[i] = walk(defs[i], fill).(map[string]any)
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		return nil, &Invalid{fmt.Errorf("container definitions: %w", &UnresolvedError{Placeholders: slices.Compact(missing)})}
	}
	if len(v.EnvVars) > 0 {
		for _, def := range defs {
			setEnv(def, v.EnvVars)
		}
	}
	if len(v.Secrets) > 0 {
		target := defs[0]
		for _, def := range defs {
			if ess, ok := def["essential"].(bool); ok && ess {
				target = def
				break
			}
		}
		list, _ := target["secrets"].([]any)
		for _, s := range v.Secrets {
			list = append(list, map[string]any{"name": s.Name, "valueFrom": s.ValueFrom})
		}
		target["secrets"] = list
	}
	raw, err := json.Marshal(defs)
	if err != nil {
		return nil, invalidf("container definitions: %v", err)
	}
	var out []ecstypes.ContainerDefinition
	strict := json.NewDecoder(bytes.NewReader(raw))
	strict.DisallowUnknownFields()
	if err := strict.Decode(&out); err != nil {
		return nil, invalidf("container definitions: %v", err)
	}
	for _, c := range out {
		if aws.ToString(c.Name) == "" || aws.ToString(c.Image) == "" {
			return nil, invalidf("container definitions: every container needs a name and an image")
		}
		for _, s := range c.Secrets {
			if !secretARNRE.MatchString(aws.ToString(s.ValueFrom)) {
				return nil, invalidf("container %s: secret %s must be a Secrets Manager or SSM parameter ARN", aws.ToString(c.Name), aws.ToString(s.Name))
			}
		}
	}
	return out, nil
}

func walk(v any, fill func(string) string) any {
	switch x := v.(type) {
	case string:
		return fill(x)
	case []any:
		for i := range x {
			x[i] = walk(x[i], fill)
		}
		return x
	case map[string]any:
		for k, e := range x {
			x[k] = walk(e, fill)
		}
		return x
	}
	return v
}

// setEnv sets vars in a container's environment, replacing same-named ones.
func setEnv(def map[string]any, vars map[string]string) {
	list, _ := def["environment"].([]any)
	kept := list[:0:0]
	for _, e := range list {
		m, ok := e.(map[string]any)
		if ok {
			if n, _ := m["name"].(string); vars[n] != "" || hasKey(vars, n) {
				continue
			}
		}
		kept = append(kept, e)
	}
	names := slices.Collect(maps.Keys(vars))
	sort.Strings(names)
	for _, n := range names {
		kept = append(kept, map[string]any{"name": n, "value": vars[n]})
	}
	def["environment"] = kept
}

func hasKey(m map[string]string, k string) bool { _, ok := m[k]; return ok }

// overridden merges the service's and the environment's settings.
type overridden struct {
	variables, envVars map[string]string
	cpu, memory        string
	desired            int32
}

func applyOverrides(s *model.Service, env *model.Environment) overridden {
	o := overridden{variables: maps.Clone(s.Variables), envVars: map[string]string{}, cpu: s.ECS.CPU, memory: s.ECS.Memory,
		desired: desiredCount(s, env)}
	if o.variables == nil {
		o.variables = map[string]string{}
	}
	layers := []model.Overrides{env.Overrides}
	if so, ok := env.ServiceOverrides[s.ID]; ok {
		layers = append(layers, so)
	}
	for _, l := range layers {
		maps.Copy(o.variables, l.Variables)
		maps.Copy(o.envVars, l.EnvVars)
		if l.CPU != "" {
			o.cpu = l.CPU
		}
		if l.Memory != "" {
			o.memory = l.Memory
		}
	}
	return o
}

func fmtRevision(td *ecstypes.TaskDefinition) string {
	return fmt.Sprintf("%s:%d", aws.ToString(td.Family), td.Revision)
}
