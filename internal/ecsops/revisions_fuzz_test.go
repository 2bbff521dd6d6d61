package ecsops_test

import (
	"strings"
	"testing"

	"github.com/ecsflow/ecsflow/internal/ecsops"
)

func FuzzRevisionNumber(f *testing.F) {
	for _, s := range [][2]string{{"web", "web"}, {"web", "web__3"}, {"web", "web__03"}, {"web", "web__"}, {"a__1", "a__1__2"}, {"web", "web__99999999999999999999"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, base, name string) {
		n, ok := ecsops.RevisionNumber(base, name)
		if !ok {
			return
		}
		if n < 0 {
			t.Fatalf("RevisionNumber(%q, %q) = %d", base, name, n)
		}
		if n == 0 && name != base {
			t.Fatalf("RevisionNumber(%q, %q) = 0 for a name that is not the base", base, name)
		}
		if n > 0 {
			if got := ecsops.RevisionName(base, n); got != name {
				t.Fatalf("RevisionName(%q, %d) = %q, want %q back", base, n, got, name)
			}
			if !strings.HasPrefix(name, base+ecsops.RevisionSep) {
				t.Fatalf("%q parsed as a revision of %q without its prefix", name, base)
			}
		}
	})
}
