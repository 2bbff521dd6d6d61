package apply_test

import (
	"errors"
	"os"
	"testing"

	"github.com/ecsflow/ecsflow/internal/apply"
)

// FuzzParse: any input is either a file or an *InvalidError with at least
// one problem, never a panic.
func FuzzParse(f *testing.F) {
	for _, p := range []string{"../../examples/ecsflow.yaml", "../../cmd/ecsflow/testdata/rolling.yaml"} {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	for _, s := range []string{"", "[]", "applications: 3", "applications:\n  - name: a\n    services: {x: 1}\n",
		"cloudProviders:\n  - &a {name: x}\n  - *a\n", "applications:\n  - name: a\n    environments:\n      - name: e\n        infrastructures: [1]\n",
		"a: b\n---\nc: d\n", "applications:\n  - !!str x\n", "{", "applications:\n  - name: a\n    appId: x\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		file, err := apply.Parse("fuzz.yaml", src)
		if err != nil {
			var ie *apply.InvalidError
			if !errors.As(err, &ie) || len(ie.Problems) == 0 {
				t.Fatalf("Parse error %v is not an *InvalidError with problems", err)
			}
			for _, p := range ie.Problems {
				if p.Line < 0 || p.Message == "" {
					t.Fatalf("problem without a line or message: %+v", p)
				}
			}
			if file == nil {
				return
			}
		}
		for _, it := range file.Items {
			if it.Entity == nil || it.Label() == "" {
				t.Fatalf("item without an entity or label: %+v", it)
			}
		}
	})
}

func BenchmarkParseExample(b *testing.B) {
	src, err := os.ReadFile("../../examples/ecsflow.yaml")
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := apply.Parse("ecsflow.yaml", src); err != nil {
			b.Fatal(err)
		}
	}
}
