package trigger_test

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ecsflow/ecsflow/internal/model"
	"github.com/ecsflow/ecsflow/internal/trigger"
)

func trg(id, filter string, disabled bool) *model.Trigger {
	return &model.Trigger{Meta: model.Meta{ID: id}, TagFilter: filter, Disabled: disabled, WorkflowID: "wf-1"}
}

func TestMatches(t *testing.T) {
	m := trigger.NewMatcher()
	for _, tc := range []struct {
		name string
		t    *model.Trigger
		tag  string
		want bool
	}{
		{"empty filter matches any tag", trg("a", "", false), "latest", true},
		{"empty filter matches a digest-only push", trg("a", "", false), "", true},
		{"semver filter matches", trg("a", `v[0-9]+\.[0-9]+\.[0-9]+`, false), "v1.20.3", true},
		{"filter is anchored at the end", trg("a", `v[0-9]+\.[0-9]+\.[0-9]+`, false), "v1.20.3-rc1", false},
		{"filter is anchored at the start", trg("a", `[0-9]+`, false), "v123", false},
		{"alternation is anchored as a whole", trg("a", `main|release-.*`, false), "xmain", false},
		{"alternation matches its second branch", trg("a", `main|release-.*`, false), "release-7", true},
		{"filter never matches a digest-only push", trg("a", `.*`, false), "", false},
		{"disabled trigger never matches", trg("a", "", true), "latest", false},
		{"disabled filtered trigger never matches", trg("a", `latest`, true), "latest", false},
		{"literal filter", trg("a", `latest`, false), "latest", true},
		{"case matters", trg("a", `latest`, false), "LATEST", false},
		{"nil trigger", nil, "latest", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := m.Matches(tc.t, tc.tag)
			if err != nil {
				t.Fatalf("Matches: %v", err)
			}
			if got != tc.want {
				t.Errorf("Matches(%v, %q) = %v, want %v", tc.t, tc.tag, got, tc.want)
			}
		})
	}
}

func TestMatchKeepsOrderAndSkipsBrokenFilters(t *testing.T) {
	m := trigger.NewMatcher()
	ts := []*model.Trigger{
		trg("t1", `v.*`, false),
		trg("t2", `(`, false), // stored before a rule refused it
		trg("t3", "", false),
		trg("t4", `v.*`, true),
		trg("t5", `main`, false),
		trg("t6", `v1|v2`, false),
	}
	for _, tc := range []struct {
		name, tag  string
		want       []string
		wantBroken int
	}{
		{"several matches in order", "v1", []string{"t1", "t3", "t6"}, 1},
		{"one match", "main", []string{"t3", "t5"}, 1},
		{"digest-only (no filter is evaluated)", "", []string{"t3"}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fired, broken := m.Match(ts, tc.tag)
			var got []string
			for _, f := range fired {
				got = append(got, f.ID)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("Match(%q) = %v, want %v", tc.tag, got, tc.want)
			}
			if len(broken) != tc.wantBroken || tc.wantBroken > 0 && !strings.Contains(broken[0].Error(), "t2") {
				t.Errorf("broken = %v, want %d (trigger t2 named)", broken, tc.wantBroken)
			}
		})
	}
}

func TestDecodeECREvent(t *testing.T) {
	sample, err := os.ReadFile("../../events/ecr-image-action.json")
	if err != nil {
		t.Fatal(err)
	}
	p, err := trigger.DecodeECREvent(sample)
	if err != nil {
		t.Fatalf("decode sample: %v", err)
	}
	want := trigger.Push{EventID: "5b6d0e3a-2c17-9f84-7e21-c0a9d8e7f6b5", Account: "111122223333", Region: "us-west-2",
		Time: time.Date(2025, 3, 4, 18, 15, 27, 0, time.UTC), Repository: "web", Tag: "2.4.1",
		Digest: "sha256:3f2b9a1c0d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a"}
	if p != want {
		t.Errorf("decode sample = %+v, want %+v", p, want)
	}
	digestOnly, err := os.ReadFile("../../events/ecr-image-action-digest-only.json")
	if err != nil {
		t.Fatal(err)
	}
	if p, err := trigger.DecodeECREvent(digestOnly); err != nil || p.Tag != "" || p.Repository != "team/web" || !strings.HasPrefix(p.Digest, "sha256:7d2a") {
		t.Errorf("decode digest-only sample = %+v, %v; want team/web, no tag, its digest", p, err)
	}

	for _, tc := range []struct {
		name, raw string
		want      error
		wantID    string
	}{
		{"digest-only push", string(pushEvent("e1", "team/web", "", digestOf(1))), nil, "e1"},
		{"truncated", `{"id":"e2"`, trigger.ErrMalformedEvent, ""},
		{"no id", strings.Replace(string(pushEvent("x", "web", "v1", digestOf(1))), `"id":"x",`, "", 1), trigger.ErrMalformedEvent, ""},
		{"id with spaces", string(pushEvent("a b", "web", "v1", digestOf(1))), trigger.ErrMalformedEvent, ""},
		{"upper-case repository", string(pushEvent("e3", "Web", "v1", digestOf(1))), trigger.ErrMalformedEvent, "e3"},
		{"short digest", string(pushEvent("e4", "web", "v1", "sha256:abc")), trigger.ErrMalformedEvent, "e4"},
		{"tag too long", string(pushEvent("e5", "web", strings.Repeat("a", 129), digestOf(1))), trigger.ErrMalformedEvent, "e5"},
		{"failed push", strings.Replace(string(pushEvent("e6", "web", "v1", digestOf(1))), `"SUCCESS"`, `"FAILURE"`, 1), trigger.ErrIgnoredEvent, "e6"},
		{"other source", strings.Replace(string(pushEvent("e7", "web", "v1", digestOf(1))), `"aws.ecr"`, `"my.app"`, 1), trigger.ErrIgnoredEvent, "e7"},
		{"bad time", strings.Replace(string(pushEvent("e8", "web", "v1", digestOf(1))), `2026-11-26T01:00:00Z`, `yesterday`, 1), trigger.ErrMalformedEvent, "e8"},
		{"detail of the wrong type", `{"id":"e9","source":"aws.ecr","detail-type":"ECR Image Action","account":"123456789012","region":"us-east-1","time":"2026-11-26T01:00:00Z","detail":"push"}`, trigger.ErrMalformedEvent, "e9"},
		{"too large", `{"id":"e10","pad":"` + strings.Repeat("x", trigger.MaxEventBytes) + `"}`, trigger.ErrMalformedEvent, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := trigger.DecodeECREvent([]byte(tc.raw))
			if tc.want == nil {
				if err != nil || p.EventID != tc.wantID {
					t.Fatalf("decode = %+v, %v; want event %s", p, err, tc.wantID)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("decode error = %v, want %v", err, tc.want)
			}
			var ee *trigger.EventError
			if !errors.As(err, &ee) || ee.ID != tc.wantID {
				t.Errorf("EventError id = %+v, want %q", ee, tc.wantID)
			}
		})
	}
}

func TestDerivedIDs(t *testing.T) {
	at := time.Date(2026, 11, 26, 1, 0, 0, 0, time.UTC)
	a := trigger.DeploymentID("evt-1", "trg-1", at)
	for _, tc := range []struct {
		name string
		got  string
		same bool
	}{
		{"same event and trigger", trigger.DeploymentID("evt-1", "trg-1", at), true},
		{"other trigger", trigger.DeploymentID("evt-1", "trg-2", at), false},
		{"other event", trigger.DeploymentID("evt-2", "trg-1", at), false},
		{"ids are not concatenated ambiguously", trigger.DeploymentID("evt-1t", "rg-1", at), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if (tc.got == a) != tc.same {
				t.Errorf("DeploymentID = %s vs %s, want same=%v", tc.got, a, tc.same)
			}
		})
	}
	if k, ok := model.KindOfID(a); !ok || k != model.KindDeployment || len(a) != len("dep-")+32 {
		t.Errorf("DeploymentID %q: kind %v %v, want a deployment id of model.NewID's shape", a, k, ok)
	}
	later := trigger.DeploymentID("evt-0", "trg-0", at.Add(time.Millisecond))
	if later <= a {
		t.Errorf("ids do not sort by time: %s then %s", a, later)
	}
	s1 := trigger.SyntheticEventID("as-1", "web", "v1", digestOf(1))
	if s1 != trigger.SyntheticEventID("as-1", "web", "v1", digestOf(1)) || s1 == trigger.SyntheticEventID("as-1", "web", "v1", digestOf(2)) {
		t.Errorf("SyntheticEventID is not a function of server, repo, tag and digest: %s", s1)
	}
}

func FuzzDecodeECREvent(f *testing.F) {
	for _, name := range []string{"ecr-image-action.json", "ecr-image-action-digest-only.json"} {
		if sample, err := os.ReadFile("../../events/" + name); err == nil {
			f.Add(sample)
		}
	}
	f.Add(pushEvent("seed-1", "web", "v1.2.3", digestOf(1)))
	f.Add(pushEvent("seed-2", "team/web", "", digestOf(2)))
	f.Add([]byte(`{"id":"x","detail":null}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		p, err := trigger.DecodeECREvent(raw)
		if err != nil {
			var ee *trigger.EventError
			if !errors.As(err, &ee) || !(errors.Is(err, trigger.ErrMalformedEvent) || errors.Is(err, trigger.ErrIgnoredEvent)) {
				t.Fatalf("error %v (%T) is not a typed EventError", err, err)
			}
			return
		}
		if p.EventID == "" || p.Repository == "" || !strings.HasPrefix(p.Digest, "sha256:") || len(p.Digest) != 71 || p.Time.IsZero() {
			t.Fatalf("accepted an incomplete push: %+v", p)
		}
		// Matching what was decoded never fails.
		if _, err := trigger.NewMatcher().Matches(trg("t", `v.*`, false), p.Tag); err != nil {
			t.Fatal(err)
		}
	})
}

func BenchmarkMatch1000Triggers(b *testing.B) {
	m := trigger.NewMatcher()
	ts := make([]*model.Trigger, 1000)
	for i := range ts {
		switch i % 4 {
		case 0:
			ts[i] = trg(fmt.Sprint(i), fmt.Sprintf(`v%d\.[0-9]+\.[0-9]+`, i%50), false)
		case 1:
			ts[i] = trg(fmt.Sprint(i), fmt.Sprintf(`release-%d-.*`, i), false)
		case 2:
			ts[i] = trg(fmt.Sprint(i), "", i%8 == 2)
		default:
			ts[i] = trg(fmt.Sprint(i), `main|develop|feature-[a-z]+`, false)
		}
	}
	tags := []string{"v7.1.2", "release-5-rc", "main", "sha-0123abcd", ""}
	b.ReportAllocs()
	b.ResetTimer()
	fired := 0
	for i := 0; b.Loop(); i++ {
		f, _ := m.Match(ts, tags[i%len(tags)])
		fired += len(f)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	if fired == 0 {
		b.Fatal("nothing matched")
	}
}
