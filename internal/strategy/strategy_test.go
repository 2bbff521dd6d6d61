package strategy

import (
	"fmt"
	"strings"
	"testing"

	"github.com/ecsflow/ecsflow/internal/model"
	"github.com/ecsflow/ecsflow/internal/model/modeltest"
)

var i32 = modeltest.Int32

// render writes steps compactly, e.g. "REG SETUP SCALE(1/4) WAIT W10 VERIFY60".
func render(steps []Step) string {
	parts := make([]string, len(steps))
	for i, s := range steps {
		switch s.Kind {
		case RegisterTaskDefinition:
			parts[i] = "REG"
		case UpdateService:
			parts[i] = "UPDATE"
		case SetupService:
			parts[i] = "SETUP"
		case Scale:
			parts[i] = fmt.Sprintf("SCALE(%d/%d)", s.NewCount, s.OldCount)
		case WaitSteady:
			parts[i] = "WAIT"
		case SetWeight:
			parts[i] = fmt.Sprintf("W%d", s.NewWeight)
			if s.Target == TargetRoute53 {
				parts[i] = "DNS" + parts[i]
			}
		case PointTestListener:
			parts[i] = "TEST"
		case Verify:
			parts[i] = fmt.Sprintf("VERIFY%d", s.BakeSeconds)
			if len(s.Alarms) > 0 {
				parts[i] += "[" + strings.Join(s.Alarms, ",") + "]"
			}
		case Approval:
			parts[i] = "APPROVE"
		case Cleanup:
			parts[i] = "CLEANUP"
			if s.DeleteOld {
				parts[i] += "(delete)"
			}
		}
	}
	return strings.Join(parts, " ")
}

func TestPlan(t *testing.T) {
	canary := func(mutate func(c *model.CanaryStrategy, v *model.Verification)) *model.Workflow {
		w := &model.Workflow{Strategy: model.Strategy{Type: model.StrategyCanary, Canary: &model.CanaryStrategy{
			Phases: []model.CanaryPhase{
				{Percent: i32(25), TrafficWeight: i32(10), BakeSeconds: 60},
				{Percent: i32(50), TrafficWeight: i32(50), BakeSeconds: 60, Alarms: []string{"p99"}},
				{Percent: i32(100), TrafficWeight: i32(100)},
			}}}}
		if mutate != nil {
			mutate(w.Strategy.Canary, &w.Verification)
		}
		return w
	}
	bg := func(mutate func(b *model.BlueGreenStrategy, v *model.Verification)) *model.Workflow {
		w := &model.Workflow{Strategy: model.Strategy{Type: model.StrategyBlueGreen,
			BlueGreen: &model.BlueGreenStrategy{Mode: model.BlueGreenELB, BlueBakeSeconds: 600}}}
		if mutate != nil {
			mutate(w.Strategy.BlueGreen, &w.Verification)
		}
		return w
	}
	tests := []struct {
		name   string
		w      *model.Workflow
		sizing Sizing
		want   string
	}{
		{
			name: "rolling with verification",
			w: &model.Workflow{Strategy: model.Strategy{Type: model.StrategyRolling},
				Verification: model.Verification{BakeSeconds: 60, Alarms: []string{"5xx"}, Approval: &model.Approval{}}},
			want: "REG UPDATE WAIT VERIFY60[5xx] APPROVE",
		},
		{
			name: "daemon without verification",
			w:    &model.Workflow{Strategy: model.Strategy{Type: model.StrategyDaemon}},
			want: "REG UPDATE WAIT",
		},
		{
			name:   "canary new-first keeps old at full until cleanup",
			w:      canary(nil),
			sizing: Sizing{Running: 4},
			want: "REG SETUP SCALE(1/4) WAIT W10 VERIFY60 SCALE(2/4) WAIT W50 VERIFY60[p99] " +
				"SCALE(4/4) WAIT W100 CLEANUP",
		},
		{
			name: "canary old-first downsizes old before each phase",
			w: canary(func(c *model.CanaryStrategy, _ *model.Verification) {
				c.Setup.Resize = model.ResizeOldFirst
			}),
			sizing: Sizing{Running: 4},
			want: "REG SETUP SCALE(0/3) WAIT SCALE(1/3) WAIT W10 VERIFY60 SCALE(1/2) WAIT SCALE(2/2) WAIT W50 VERIFY60[p99] " +
				"SCALE(2/0) WAIT SCALE(4/0) WAIT W100 CLEANUP",
		},
		{
			name: "canary first deployment sizes from the default",
			w: canary(func(c *model.CanaryStrategy, _ *model.Verification) {
				c.Phases = []model.CanaryPhase{{Count: i32(1)}, {Percent: i32(100)}}
			}),
			sizing: Sizing{Default: 3},
			want:   "REG SETUP SCALE(1/0) WAIT SCALE(3/0) WAIT CLEANUP",
		},
		{
			name: "canary fixed count, approval per phase, weights stopping short of 100",
			w: canary(func(c *model.CanaryStrategy, v *model.Verification) {
				c.Setup = model.ServiceSetup{CountMode: model.CountFixed, FixedCount: i32(10)}
				c.Phases = []model.CanaryPhase{
					{Percent: i32(10), TrafficWeight: i32(10), Approval: &model.Approval{}},
					{Percent: i32(100), TrafficWeight: i32(90)},
				}
				v.Alarms = []string{"5xx"}
			}),
			sizing: Sizing{Running: 2},
			want: "REG SETUP SCALE(1/2) WAIT W10 VERIFY0[5xx] APPROVE SCALE(10/2) WAIT W90 VERIFY0[5xx] W100 " +
				"VERIFY0[5xx] CLEANUP",
		},
		{
			name:   "blue/green all at once",
			w:      bg(nil),
			sizing: Sizing{Running: 3},
			want:   "REG SETUP SCALE(3/3) WAIT W100 VERIFY600 CLEANUP",
		},
		{
			name: "blue/green with test listener and linear steps",
			w: bg(func(b *model.BlueGreenStrategy, v *model.Verification) {
				b.UseTestListener = true
				b.LinearSteps = []int32{20, 60, 100}
				b.StepBakeSeconds = 30
				b.DeleteBlue = true
				v.Approval = &model.Approval{}
			}),
			sizing: Sizing{Running: 3},
			want:   "REG SETUP SCALE(3/3) WAIT TEST VERIFY30 APPROVE W20 VERIFY30 W60 VERIFY30 W100 VERIFY600 CLEANUP(delete)",
		},
		{
			name: "blue/green over Route 53 approves after the swap",
			w: bg(func(b *model.BlueGreenStrategy, v *model.Verification) {
				b.Mode = model.BlueGreenRoute53
				b.LinearSteps = []int32{50, 100}
				v.Approval = &model.Approval{}
			}),
			sizing: Sizing{Running: 2},
			want:   "REG SETUP SCALE(2/2) WAIT DNSW50 DNSW100 VERIFY600 APPROVE CLEANUP",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			steps, err := Plan(tt.w, tt.sizing)
			if err != nil {
				t.Fatalf("Plan: %v", err)
			}
			if got := render(steps); got != tt.want {
				t.Errorf("Plan\n got: %s\nwant: %s", got, tt.want)
			}
		})
	}
}

func TestPhaseCount(t *testing.T) {
	tests := []struct {
		name  string
		phase model.CanaryPhase
		full  int32
		want  int32
	}{
		{"percent rounds up", model.CanaryPhase{Percent: i32(25)}, 3, 1},
		{"percent of ten", model.CanaryPhase{Percent: i32(30)}, 10, 3},
		{"never zero", model.CanaryPhase{Percent: i32(1)}, 1, 1},
		{"count capped at full", model.CanaryPhase{Count: i32(9)}, 4, 4},
		{"hundred percent is full", model.CanaryPhase{Percent: i32(100)}, 7, 7},
	}
	for _, tt := range tests {
		if got := PhaseCount(tt.phase, tt.full); got != tt.want {
			t.Errorf("%s: PhaseCount = %d, want %d", tt.name, got, tt.want)
		}
	}
}

func TestFullCount(t *testing.T) {
	tests := []struct {
		name  string
		setup model.ServiceSetup
		s     Sizing
		want  int32
	}{
		{"same as running", model.ServiceSetup{}, Sizing{Running: 5, Default: 2}, 5},
		{"nothing running uses default", model.ServiceSetup{}, Sizing{Default: 2}, 2},
		{"fixed wins", model.ServiceSetup{CountMode: model.CountFixed, FixedCount: i32(8)}, Sizing{Running: 5}, 8},
		{"never zero", model.ServiceSetup{}, Sizing{}, 1},
	}
	for _, tt := range tests {
		if got := FullCount(tt.setup, tt.s); got != tt.want {
			t.Errorf("%s: FullCount = %d, want %d", tt.name, got, tt.want)
		}
	}
}

func TestPlanRefusesBrokenStrategies(t *testing.T) {
	tests := []struct {
		name string
		w    *model.Workflow
	}{
		{"unknown type", &model.Workflow{Strategy: model.Strategy{Type: "RECREATE"}}},
		{"canary without phases", &model.Workflow{Strategy: model.Strategy{Type: model.StrategyCanary, Canary: &model.CanaryStrategy{}}}},
		{"blue/green without settings", &model.Workflow{Strategy: model.Strategy{Type: model.StrategyBlueGreen}}},
		{"canary shrinking", &model.Workflow{Strategy: model.Strategy{Type: model.StrategyCanary, Canary: &model.CanaryStrategy{
			Phases: []model.CanaryPhase{{Count: i32(3)}, {Percent: i32(50)}, {Percent: i32(100)}}}}}},
	}
	for _, tt := range tests {
		if _, err := Plan(tt.w, Sizing{Running: 4}); err == nil {
			t.Errorf("%s: Plan = nil error, want one", tt.name)
		}
	}
}

func TestAt(t *testing.T) {
	steps, err := Plan(&model.Workflow{Strategy: model.Strategy{Type: model.StrategyRolling}}, Sizing{})
	if err != nil {
		t.Fatal(err)
	}
	if s, ok := At(steps, 1); !ok || s.Kind != UpdateService {
		t.Errorf("At(1) = %v, %v; want UPDATE_SERVICE", s.Kind, ok)
	}
	if _, ok := At(steps, len(steps)); ok {
		t.Error("At(len) reported a step")
	}
	if _, ok := At(steps, -1); ok {
		t.Error("At(-1) reported a step")
	}
}
