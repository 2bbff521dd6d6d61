package ecsops_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"

	"github.com/ecsflow/ecsflow/internal/ecsops"
	"github.com/ecsflow/ecsflow/internal/ecsops/cwalarms"
)

// setFields names the non-nil fields of c.
func setFields(c *ecsops.Clients) []string {
	var names []string
	v := reflect.ValueOf(c).Elem()
	for i := range v.NumField() {
		if !v.Field(i).IsNil() {
			names = append(names, v.Type().Field(i).Name)
		}
	}
	return names
}

func TestNewFactoryForBuildsOnlyWiredClients(t *testing.T) {
	tests := []struct {
		name     string
		services []ecsops.Service
		want     []string
	}{
		{"none", nil, nil},
		{"ecs", []ecsops.Service{ecsops.ECS()}, []string{"ECS"}},
		{"elb", []ecsops.Service{ecsops.ELB()}, []string{"ELB"}},
		{"auto scaling", []ecsops.Service{ecsops.AutoScaling()}, []string{"AutoScale"}},
		{"cloudwatch alarms", []ecsops.Service{cwalarms.Service()}, []string{"Alarms"}},
		{"route 53", []ecsops.Service{ecsops.Route53()}, []string{"Route53"}},
		{"ecs and route 53", []ecsops.Service{ecsops.Route53(), ecsops.ECS()}, []string{"ECS", "Route53"}},
		{"all of ecsops", ecsops.AllServices(), []string{"ECS", "ELB", "AutoScale", "Route53"}},
		{"all", append(ecsops.AllServices(), cwalarms.Service()), []string{"ECS", "ELB", "AutoScale", "Alarms", "Route53"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := ecsops.NewFactoryFor(aws.Config{Region: "eu-west-1"}, tc.services, ecsops.WithLocalEndpoint("http://127.0.0.1:1"))
			c, err := f.Clients(context.Background(), ecsops.Target{Region: "eu-west-1"})
			if err != nil {
				t.Fatal(err)
			}
			if got := setFields(c); !slices.Equal(got, tc.want) {
				t.Errorf("clients built: got %v, want %v", got, tc.want)
			}
			got := f.Services()
			slices.Sort(got)
			want := slices.Clone(tc.want)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("Services() = %v, want %v", got, want)
			}
		})
	}
}

// Every Clients field has a Service (the alarm reader's is cwalarms'),
// cwalarms.NewFactory (local mode, tests) builds them all, and
// ecsops.NewFactory all but the alarm reader.
func TestAllServicesCoverClients(t *testing.T) {
	var fields []string
	ty := reflect.TypeFor[ecsops.Clients]()
	for i := range ty.NumField() {
		fields = append(fields, ty.Field(i).Name)
	}
	var wired []string
	for _, s := range append(ecsops.AllServices(), cwalarms.Service()) {
		wired = append(wired, s.Field())
	}
	slices.Sort(wired)
	sorted := slices.Sorted(slices.Values(fields))
	if !slices.Equal(wired, sorted) {
		t.Fatalf("AllServices and cwalarms.Service fields = %v, want every Clients field %v", wired, sorted)
	}
	c, err := cwalarms.NewFactory(aws.Config{}).Clients(context.Background(), ecsops.Target{Region: "eu-west-1"})
	if err != nil {
		t.Fatal(err)
	}
	if got := setFields(c); !slices.Equal(got, fields) {
		t.Fatalf("cwalarms.NewFactory built %v, want %v", got, fields)
	}
	c, err = ecsops.NewFactory(aws.Config{}).Clients(context.Background(), ecsops.Target{Region: "eu-west-1"})
	if err != nil {
		t.Fatal(err)
	}
	want := slices.DeleteFunc(slices.Clone(fields), func(f string) bool { return f == cwalarms.Field })
	if got := setFields(c); !slices.Equal(got, want) {
		t.Fatalf("ecsops.NewFactory built %v, want %v", got, want)
	}
	// Without the reader, reading alarms is a typed error, not a nil
	// dereference; no names need no reader.
	if _, err := c.AlarmsFiring(context.Background(), []string{"web-5xx"}); !errors.Is(err, ecsops.ErrNoAlarmReader) {
		t.Errorf("AlarmsFiring without a reader: err = %v, want ErrNoAlarmReader", err)
	}
	if got, err := c.AlarmsFiring(context.Background(), nil); got != nil || err != nil {
		t.Errorf("AlarmsFiring of no names = %v, %v; want nothing", got, err)
	}
}

// A client of a wired factory keeps what the factory gives every client:
// the endpoint, the target's region and the call counter.
func TestWiredClientCountsCalls(t *testing.T) {
	var target, auth string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		target, auth = r.Header.Get("X-Amz-Target"), r.Header.Get("Authorization")
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		_, _ = io.WriteString(w, `{"clusterArns":["arn:aws:ecs:us-east-2:123456789012:cluster/prod"]}`)
	}))
	defer srv.Close()
	f := ecsops.NewFactoryFor(aws.Config{}, []ecsops.Service{ecsops.ECS()}, ecsops.WithLocalEndpoint(srv.URL))
	c, err := f.Clients(context.Background(), ecsops.Target{Region: "us-east-2"})
	if err != nil {
		t.Fatal(err)
	}
	n := ecsops.NewCounter()
	out, err := c.ECS.ListClusters(ecsops.WithCounter(context.Background(), n), &ecs.ListClustersInput{})
	if err != nil {
		t.Fatalf("ListClusters: %v", err)
	}
	if len(out.ClusterArns) != 1 {
		t.Errorf("cluster ARNs: got %v, want the one the server sent", out.ClusterArns)
	}
	if !strings.HasSuffix(target, ".ListClusters") {
		t.Errorf("X-Amz-Target = %q, want ...ListClusters", target)
	}
	if !strings.Contains(auth, "/us-east-2/ecs/") {
		t.Errorf("Authorization %q is not scoped to us-east-2/ecs", auth)
	}
	if got := n.Counts()["ecs:ListClusters"]; got != 1 {
		t.Errorf("counter ecs:ListClusters = %d, want 1 (counts %v)", got, n.Counts())
	}
}
