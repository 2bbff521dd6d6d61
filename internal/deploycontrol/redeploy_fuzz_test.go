package deploycontrol

import (
	"strings"
	"testing"
)

// FuzzArtifactFromImage: splitting a revision's image reference and
// joining it again gives the reference back (but an empty tag or digest),
// and a registry port is never taken for a tag.
func FuzzArtifactFromImage(f *testing.F) {
	for _, s := range []string{"web", "web:v1", "reg:5000/web", "reg:5000/web:v1", "1.dkr.ecr.us-east-1.amazonaws.com/web@sha256:" + strings.Repeat("0", 64), "a@b", ":", "/:", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, ref string) {
		a := artifactFromImage(ref)
		// Only an empty tag or digest ("web:", "web@") is lost on the way.
		empty := a.Tag == "" && a.Digest == "" && (strings.HasSuffix(ref, ":") || strings.HasSuffix(ref, "@"))
		if got := a.Reference(); got != ref && !empty {
			t.Fatalf("artifactFromImage(%q) = %+v, Reference %q", ref, a, got)
		}
		if strings.Contains(a.Tag, "/") {
			t.Fatalf("artifactFromImage(%q) took %q for a tag", ref, a.Tag)
		}
	})
}
