package placeholder

import (
	"encoding/json"
	"testing"
)

// BenchmarkMissingWorkflowVariables is the cost the API's up-front check
// adds to a deployment request: one container template of typical size.
func BenchmarkMissingWorkflowVariables(b *testing.B) {
	doc := json.RawMessage(`[{"name":"web","image":"${artifact.image}","essential":true,"portMappings":[{"containerPort":8080}],` +
		`"environment":[{"name":"TAG","value":"${workflow.variables.TAG}"},{"name":"RELEASE","value":"r-${workflow.variables.RELEASE}"},` +
		`{"name":"WHERE","value":"${service.name}@${env.name}"},{"name":"LOG","value":"${serviceVariable.LOG_LEVEL}"}],` +
		`"logConfiguration":{"logDriver":"awslogs","options":{"awslogs-group":"/ecs/${app.name}","awslogs-region":"us-east-1"}},` +
		`"command":["sh","-c","exec /app --port 8080"]},{"name":"sidecar","image":"envoy:v1","essential":false,"cpu":64}]`)
	vars := map[string]string{"TAG": "v1"}
	b.ReportAllocs()
	for b.Loop() {
		missing, err := MissingWorkflowVariables(doc, vars)
		if err != nil || len(missing) != 1 {
			b.Fatalf("MissingWorkflowVariables = %v, %v; want [RELEASE]", missing, err)
		}
	}
}
