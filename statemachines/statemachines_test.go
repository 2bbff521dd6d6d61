package statemachines

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

func TestPlaceholdersAreDistinctAndSorted(t *testing.T) {
	got := Placeholders(`{"a":"${StepB}","b":"${StepA}","c":"${StepB}","d":"$.not"}`)
	want := []string{"StepA", "StepB"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Placeholders = %v, want %v", got, want)
	}
}

func TestSubstituteNamesMissingPlaceholders(t *testing.T) {
	_, err := Substitute(`${A} ${B} ${C}`, map[string]string{"A": "x"})
	if err == nil || !strings.Contains(err.Error(), "B, C") {
		t.Fatalf("err = %v, want one naming B, C", err)
	}
	got, err := Substitute(`${A}-${A}`, map[string]string{"A": "x"})
	if err != nil || got != "x-x" {
		t.Fatalf("Substitute = %q, %v; want x-x", got, err)
	}
}

func TestEveryEmbeddedDefinitionIsJSONWithStartAt(t *testing.T) {
	for _, d := range All() {
		vals := map[string]string{}
		for _, p := range d.Placeholders {
			vals[p] = "arn:aws:lambda:us-east-1:123456789012:function:" + p
		}
		body, err := Substitute(d.Body, vals)
		if err != nil {
			t.Fatalf("%s: %v", d.Name, err)
		}
		var asl struct {
			StartAt string
			States  map[string]json.RawMessage
		}
		if err := json.Unmarshal([]byte(body), &asl); err != nil {
			t.Fatalf("%s: not JSON after substitution: %v", d.Name, err)
		}
		if asl.StartAt == "" || len(asl.States) == 0 {
			t.Fatalf("%s: no StartAt or no States", d.Name)
		}
	}
}
