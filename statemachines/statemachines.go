// Package statemachines embeds the Amazon States Language definitions that
// drive ecsflow deployments (JSONPath mode, not JSONata). Each
// <name>.asl.json may contain ${Placeholder} tokens, which the CDK app fills
// with DefinitionSubstitutions and the local runner fills with local ARNs.
//
// Placeholder names are fixed so that both fillers agree:
//   - ${<Pascal(folder)>Arn}: the Lambda built from functions/<folder>, e.g.
//     ${StepPrepareArn} for functions/step-prepare;
//   - ${<Pascal(name)>StateMachineArn}: the state machine of
//     statemachines/<name>.asl.json, e.g. ${RollingStateMachineArn};
//   - ${TableName}, ${TableArn}, ${TopicArn}: the DynamoDB table and the
//     notification topic.
package statemachines

import (
	"embed"
	"fmt"
	"io/fs"
	"regexp"
	"sort"
	"strings"
)

//go:embed *
var files embed.FS

// Definition is one state machine as shipped.
type Definition struct {
	// Name is the file name without ".asl.json", for example "rolling".
	Name string
	// Body is the ASL text with its placeholders still in place.
	Body string
	// Placeholders are the distinct ${...} names in Body, sorted.
	Placeholders []string
}

var placeholderRE = regexp.MustCompile(`\$\{([A-Za-z][A-Za-z0-9_]*)\}`)

// All returns every embedded definition, sorted by name.
func All() []Definition {
	entries, err := fs.Glob(files, "*.asl.json")
	if err != nil {
		panic(fmt.Sprintf("statemachines: glob: %v", err))
	}
	out := make([]Definition, 0, len(entries))
	for _, e := range entries {
		body, err := files.ReadFile(e)
		if err != nil {
			panic(fmt.Sprintf("statemachines: read %s: %v", e, err))
		}
		out = append(out, Definition{
			Name:         strings.TrimSuffix(e, ".asl.json"),
			Body:         string(body),
			Placeholders: Placeholders(string(body)),
		})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Get returns the named definition.
func Get(name string) (Definition, bool) {
	for _, d := range All() {
		if d.Name == name {
			return d, true
		}
	}
	return Definition{}, false
}

// Placeholders lists the distinct ${Name} tokens in body, sorted.
func Placeholders(body string) []string {
	seen := map[string]bool{}
	var out []string
	for _, m := range placeholderRE.FindAllStringSubmatch(body, -1) {
		if !seen[m[1]] {
			seen[m[1]] = true
			out = append(out, m[1])
		}
	}
	sort.Strings(out)
	return out
}

// Substitute replaces every placeholder in body with values[name]. It fails,
// naming them, when any placeholder has no value.
func Substitute(body string, values map[string]string) (string, error) {
	var missing []string
	out := placeholderRE.ReplaceAllStringFunc(body, func(tok string) string {
		name := tok[2 : len(tok)-1]
		v, ok := values[name]
		if !ok {
			missing = append(missing, name)
			return tok
		}
		return v
	})
	if len(missing) > 0 {
		sort.Strings(missing)
		return "", fmt.Errorf("statemachines: no value for placeholders %s", strings.Join(missing, ", "))
	}
	return out, nil
}
