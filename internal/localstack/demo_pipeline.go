package localstack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"

	"github.com/ecsflow/ecsflow/internal/awsemu"
	"github.com/ecsflow/ecsflow/internal/client"
	"github.com/ecsflow/ecsflow/internal/model"
)

// DemoStepError names the demo step that did not end as expected.
type DemoStepError struct {
	Step string
	Err  error
}

func (e *DemoStepError) Error() string { return fmt.Sprintf("step %q: %v", e.Step, e.Err) }

func (e *DemoStepError) Unwrap() error { return e.Err }

// DemoRow is one deployment of the pipeline demo, for its summary table.
type DemoRow struct {
	DeploymentID string
	Stage        string // pipeline stage (dev, prod)
	Image        string // the pushed tag
	Strategy     model.StrategyType
	Status       model.Status
	Want         model.Status
	Simulated    time.Duration // StartedAt → EndedAt on the simulated clock
	Real         time.Duration // wall time, as watched
	APICalls     int64
	Transitions  int64
	CostUSD      float64
}

// DemoReport is what DemoPipeline saw.
type DemoReport struct {
	Rows []DemoRow
	// Pipelines are the two executions: the release, then the broken push.
	Pipelines []*model.PipelineExecution
	Real      time.Duration
	Simulated time.Duration
}

// demoPushWait bounds (real time) the wait for the pipeline a push starts.
var demoPushWait = 30 * time.Second

// demoCrashAfter is how long (simulated seconds) a broken task runs.
var demoCrashAfter = 1.0

// broken tag of the demo: its tasks crash (fault plan).
const (
	demoGoodTag   = "v1.0.0"
	demoBrokenTag = "v1.0.1-broken"
)

// DemoPipeline runs the newcomer's tour on a running stack, as a user of
// `ecsflow local --seed-example` would: it creates the AWS world of the
// example (src is examples/ecsflow.yaml's text) and applies it; pushes
// web:v1.0.0, whose ECR push event starts the web-release pipeline; follows
// it through the dev canary and the approval, which it approves, then the
// prod blue/green; then sets a fault plan making web:v1.0.1-broken crash,
// pushes it, and follows the pipeline's dev canary to its automatic
// rollback. It prints plain, timestamped progress and a summary table to
// out. The error, a *DemoStepError, names the first step that did not end
// as expected; the report holds what was seen up to there.
func DemoPipeline(ctx context.Context, s *Stack, src []byte, out io.Writer) (*DemoReport, error) {
	c, err := client.New(ctx, s.URL(), client.Options{})
	if err != nil {
		return nil, &DemoStepError{Step: "connect to the API", Err: err}
	}
	d := &pipelineDemo{s: s, c: c, out: out, rep: &DemoReport{}, realStart: time.Now(), simStart: s.Clock().Now(),
		lastStage: map[string]model.PipelineStatus{}, deps: map[string]*depWatch{}, digests: map[string]string{}}
	err = d.run(ctx, src)
	d.rep.Real = time.Since(d.realStart)
	d.rep.Simulated = s.Clock().Now().Sub(d.simStart)
	if len(d.rep.Rows) > 0 {
		d.summary()
	}
	if err != nil {
		fmt.Fprintf(out, "\nDEMO FAILED at %v\n", err)
		return d.rep, err
	}
	fmt.Fprintf(out, "\nDemo finished: every step ended as expected (%s real, %s simulated).\n",
		d.rep.Real.Round(time.Millisecond), d.rep.Simulated.Round(time.Second))
	return d.rep, nil
}

type pipelineDemo struct {
	s         *Stack
	c         *client.Client
	out       io.Writer
	rep       *DemoReport
	realStart time.Time
	simStart  time.Time
	n         int
	// lastStage is each stage's last printed status, by execution/stage.
	lastStage map[string]model.PipelineStatus
	// deps is what was seen of each stage deployment.
	deps map[string]*depWatch
	// digests are the pushed images' digests, by tag.
	digests map[string]string
}

type depWatch struct {
	// printed holds the ledger sequence numbers already shown. A set, not
	// a high-water mark: AppendLedger takes its numbers from a counter
	// before it writes the entries, so concurrent writers (a step and the
	// ECS events) can make a lower number visible after a higher one.
	printed map[int64]bool
	start   time.Time
	stopped int
	done    bool
}

func (d *pipelineDemo) say(format string, args ...any) {
	fmt.Fprintf(d.out, format+"\n", args...)
}

// log prints one progress line, stamped with real and simulated elapsed time.
func (d *pipelineDemo) log(format string, args ...any) {
	sim := d.s.Clock().Now().Sub(d.simStart).Truncate(time.Second)
	fmt.Fprintf(d.out, "  [real %6.2fs | sim %8s] %s\n", time.Since(d.realStart).Seconds(), sim, fmt.Sprintf(format, args...))
}

func (d *pipelineDemo) step(title string) string {
	d.n++
	d.say("\n%d. %s", d.n, title)
	return title
}

func (d *pipelineDemo) run(ctx context.Context, src []byte) error {
	d.say("ecsflow demo: a release pipeline and an automatic rollback on the local stack")
	d.say("  API %s, AWS emulator %s, clock x%g (simulated seconds per real second)", d.s.URL(), d.s.AWSURL(), d.s.Clock().Scale())

	st := d.step("Create the example's AWS world and apply examples/ecsflow.yaml")
	var plan strings.Builder
	p, err := SeedExample(ctx, d.s, ExamplePath, src, ExampleOptions{}, &plan)
	if err != nil {
		return &DemoStepError{Step: st, Err: err}
	}
	for _, l := range strings.Split(strings.TrimSpace(plan.String()), "\n") {
		d.say("  %s", l)
	}
	var pipelineID string
	for _, ch := range p.Changes {
		if ch.Kind == string(model.KindPipeline) && strings.HasSuffix(ch.Name, "/web-release") {
			pipelineID = ch.ID
		}
	}
	if pipelineID == "" {
		return &DemoStepError{Step: st, Err: errors.New("the applied plan has no pipeline web-release")}
	}

	st = d.step("Push web:" + demoGoodTag + ": the ECR push event starts pipeline web-release (dev canary → approval → prod blue/green)")
	x, err := d.push(ctx, pipelineID, demoGoodTag, nil)
	if err != nil {
		return &DemoStepError{Step: st, Err: err}
	}
	x, err = d.watch(ctx, x.ID, model.PipelineWaitingApproval, map[string]model.Status{"dev": model.StatusSucceeded})
	if err != nil {
		return &DemoStepError{Step: st, Err: err}
	}

	st = d.step("Approve the promotion to prod (ecsflow approve " + x.ID + ")")
	if _, err := d.c.ControlPipeline(ctx, x.ID, "approve", "demo: dev looks good"); err != nil {
		return &DemoStepError{Step: st, Err: fmt.Errorf("approve: %w", err)}
	}
	d.log("APPROVED     approve-prod (comment: demo: dev looks good)")
	x, err = d.watch(ctx, x.ID, model.PipelineSucceeded, map[string]model.Status{"prod": model.StatusSucceeded})
	if err != nil {
		return &DemoStepError{Step: st, Err: err}
	}
	d.rep.Pipelines = append(d.rep.Pipelines, x)
	good := d.rowFor("dev")

	st = d.step("Push web:" + demoBrokenTag + ", whose tasks crash (a fault plan)")
	d.say("   Its tasks exit 1 simulated second after they start: the dev canary never gets steady, and ecsflow rolls back on its own.")
	x, err = d.push(ctx, pipelineID, demoBrokenTag, map[string]bool{d.rep.Pipelines[0].ID: true})
	if err != nil {
		return &DemoStepError{Step: st, Err: err}
	}
	x, err = d.watch(ctx, x.ID, model.PipelineFailed, map[string]model.Status{"dev": model.StatusRolledBack})
	if err != nil {
		return &DemoStepError{Step: st, Err: err}
	}
	d.rep.Pipelines = append(d.rep.Pipelines, x)
	for _, sr := range x.Stages {
		if sr.Name == "prod" && sr.DeploymentID != "" {
			return &DemoStepError{Step: st, Err: fmt.Errorf("the failed pipeline went on to prod (deployment %s)", sr.DeploymentID)}
		}
	}

	st = d.step("Check: dev runs web:" + demoGoodTag + " again, at full count")
	if good == nil {
		return &DemoStepError{Step: st, Err: errors.New("no dev deployment of " + demoGoodTag + " was recorded")}
	}
	if err := d.checkDev(ctx, good.DeploymentID); err != nil {
		return &DemoStepError{Step: st, Err: err}
	}
	return nil
}

// push pushes web:tag to the emulated ECR and waits for the pipeline
// execution it starts (one not in seen).
func (d *pipelineDemo) push(ctx context.Context, pipelineID, tag string, seen map[string]bool) (*model.PipelineExecution, error) {
	uri, err := d.s.Emulator().PushImage(ctx, "web", tag)
	if err != nil {
		return nil, fmt.Errorf("push web:%s: %w", tag, err)
	}
	d.digests[tag] = uri
	d.log("PUSH         web:%s -> %s", tag, uri)
	if tag == demoBrokenTag {
		// The trigger deploys by digest (web@sha256:...), so the fault plan
		// matches the digest just pushed. It is in place long before the
		// pipeline's first task starts (that takes a task definition, a
		// service and a simulated image pull).
		rule := awsemu.FaultRule{Image: "*@" + uri, Behavior: awsemu.BehaviorCrash, AfterSeconds: demoCrashAfter}
		if err := d.s.Emulator().SetFaultPlan(awsemu.FaultPlan{Rules: []awsemu.FaultRule{rule}}); err != nil {
			return nil, fmt.Errorf("set the fault plan: %w", err)
		}
		d.log("FAULT        image %s -> crash %gs after start (ecsflow emulator fault)", rule.Image, rule.AfterSeconds)
	}
	deadline := time.Now().Add(demoPushWait)
	for {
		xs, err := d.c.PipelineExecutions(ctx, pipelineID)
		if err != nil {
			return nil, fmt.Errorf("list executions: %w", err)
		}
		for _, x := range xs {
			if !seen[x.ID] && x.Artifact.Tag == tag {
				d.log("PIPELINE     execution %s of web-release started by %s", x.ID, x.TriggeredBy.Kind)
				return x, nil
			}
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("the push of web:%s started no pipeline execution within %s", tag, demoPushWait)
		}
		if err := pause(ctx, 20*time.Millisecond); err != nil {
			return nil, err
		}
	}
}

func pause(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return fmt.Errorf("demo interrupted: %w", ctx.Err())
	case <-time.After(d):
		return nil
	}
}

// watch follows execution id until it reaches want (or ends otherwise),
// printing stage changes and the running deployment's ledger; each stage
// deployment that ends is added to the report, and checked against
// wantDep[stage].
func (d *pipelineDemo) watch(ctx context.Context, id string, want model.PipelineStatus, wantDep map[string]model.Status) (*model.PipelineExecution, error) {
	lastStage, deps := d.lastStage, d.deps
	deadline := time.Now().Add(90 * time.Second)
	for {
		x, err := d.c.PipelineExecution(ctx, id)
		if err != nil {
			return nil, fmt.Errorf("pipeline execution %s: %w", id, err)
		}
		for _, sr := range x.Stages {
			if lastStage[x.ID+"/"+sr.Name] != sr.Status {
				lastStage[x.ID+"/"+sr.Name] = sr.Status
				line := fmt.Sprintf("STAGE        %-13s %-10s %s", sr.Name, sr.Type, sr.Status)
				if sr.Error != "" {
					line += "  " + sr.Error
				}
				d.log("%s", line)
			}
			if sr.DeploymentID == "" {
				continue
			}
			w := deps[sr.DeploymentID]
			if w == nil {
				w = &depWatch{start: time.Now()}
				deps[sr.DeploymentID] = w
			}
			if w.done {
				continue
			}
			dep, err := d.c.Deployment(ctx, sr.DeploymentID)
			if client.StatusOf(err) == http.StatusNotFound {
				continue // the stage fixes the ID before it creates the deployment
			}
			if err != nil {
				return nil, fmt.Errorf("deployment %s: %w", sr.DeploymentID, err)
			}
			if w.printed == nil {
				w.printed = map[int64]bool{}
			}
			for _, l := range dep.Ledger {
				if w.printed[l.Seq] {
					continue
				}
				w.printed[l.Seq] = true
				switch l.Kind {
				case model.LedgerStep, model.LedgerTraffic, model.LedgerRollback, model.LedgerApproval:
				case model.LedgerTaskStopped:
					if w.stopped++; w.stopped > 3 {
						continue
					}
				default:
					continue
				}
				d.log("%-12s %-4s %s", l.Kind, sr.Name, l.Message)
			}
			if dep.Status.Final() && dep.EndedAt != nil {
				w.done = true
				row := DemoRow{DeploymentID: dep.ID, Stage: sr.Name, Image: dep.Artifact.Tag, Strategy: dep.Strategy,
					Status: dep.Status, Want: wantDep[sr.Name], Real: time.Since(w.start),
					APICalls: sum(dep.Usage.APICalls), Transitions: dep.Usage.StateTransitions, CostUSD: dep.Usage.EstimatedCostUSD}
				if dep.StartedAt != nil {
					row.Simulated = dep.EndedAt.Sub(*dep.StartedAt)
				}
				d.rep.Rows = append(d.rep.Rows, row)
				d.log("DEPLOYMENT   %-4s %s %s %s after %s simulated", sr.Name, dep.ID, dep.Strategy, dep.Status, row.Simulated.Round(time.Second))
				if row.Want != "" && dep.Status != row.Want {
					return nil, fmt.Errorf("deployment %s (%s) ended %s, want %s: %s", dep.ID, sr.Name, dep.Status, row.Want, dep.Reason)
				}
			}
		}
		if x.Status == want {
			d.log("PIPELINE     %s %s", x.ID, x.Status)
			return x, nil
		}
		if x.Status.Final() {
			return nil, fmt.Errorf("pipeline execution %s ended %s (stage %s: %s), want %s", x.ID, x.Status, x.FailedStage, x.Reason, want)
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("pipeline execution %s still %s after 90s, want %s", x.ID, x.Status, want)
		}
		if err := pause(ctx, 50*time.Millisecond); err != nil {
			return nil, err
		}
	}
}

// rowFor is the first report row of a stage.
func (d *pipelineDemo) rowFor(stage string) *DemoRow {
	for i := range d.rep.Rows {
		if d.rep.Rows[i].Stage == stage {
			return &d.rep.Rows[i]
		}
	}
	return nil
}

// checkDev verifies that the revision the good dev deployment created
// still serves, with its full count, and runs the good image.
func (d *pipelineDemo) checkDev(ctx context.Context, goodID string) error {
	good, err := d.c.Deployment(ctx, goodID)
	if err != nil {
		return fmt.Errorf("deployment %s: %w", goodID, err)
	}
	rev := good.NewRevision
	if rev == nil {
		return fmt.Errorf("deployment %s recorded no revision", goodID)
	}
	ecsc := ecs.NewFromConfig(d.s.AWSConfig())
	deadline := time.Now().Add(20 * time.Second)
	for {
		out, err := ecsc.DescribeServices(ctx, &ecs.DescribeServicesInput{Cluster: aws.String("dev"), Services: []string{rev.ServiceName}})
		if err != nil {
			return fmt.Errorf("describe service %s: %w", rev.ServiceName, err)
		}
		if len(out.Services) != 1 {
			return fmt.Errorf("service %s not found in cluster dev", rev.ServiceName)
		}
		sv := out.Services[0]
		td := aws.ToString(sv.TaskDefinition)
		if td != rev.TaskDefinitionARN {
			return fmt.Errorf("service %s runs %s, want the good revision %s", rev.ServiceName, td, rev.TaskDefinitionARN)
		}
		if sv.RunningCount == sv.DesiredCount && sv.DesiredCount > 0 {
			tdo, err := ecsc.DescribeTaskDefinition(ctx, &ecs.DescribeTaskDefinitionInput{TaskDefinition: aws.String(td)})
			if err != nil {
				return fmt.Errorf("describe task definition %s: %w", td, err)
			}
			img := aws.ToString(tdo.TaskDefinition.ContainerDefinitions[0].Image)
			if want := d.digests[demoGoodTag]; !strings.HasSuffix(img, ":"+demoGoodTag) && !strings.HasSuffix(img, "@"+want) {
				return fmt.Errorf("service %s runs image %s, want web:%s (%s)", rev.ServiceName, img, demoGoodTag, want)
			}
			d.log("ECS          cluster dev, service %s: %d/%d tasks of %s", rev.ServiceName, sv.RunningCount, sv.DesiredCount, img)
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("service %s has %d of %d tasks running", rev.ServiceName, sv.RunningCount, sv.DesiredCount)
		}
		if err := pause(ctx, 50*time.Millisecond); err != nil {
			return err
		}
	}
}

// summary prints the per-deployment table.
func (d *pipelineDemo) summary() {
	d.say("\nSummary (cost: Step Functions state transitions + Lambda + DynamoDB, estimated at AWS list prices)")
	tw := tabwriter.NewWriter(d.out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "STAGE\tIMAGE\tSTRATEGY\tRESULT\tEXPECTED\tSIMULATED\tREAL\tAWS CALLS\tTRANSITIONS\tEST. COST")
	for _, r := range d.rep.Rows {
		want := string(r.Want)
		switch {
		case want == "":
			want = "-"
		case r.Want == r.Status:
			want = "yes"
		default:
			want = "NO (" + want + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t$%.6f\n", r.Stage, r.Image, r.Strategy, r.Status, want,
			r.Simulated.Round(time.Second), r.Real.Round(10*time.Millisecond), r.APICalls, r.Transitions, r.CostUSD)
	}
	_ = tw.Flush()
}

// DemoClockScale is the clock scale `ecsflow demo` runs at: simulated
// seconds per real second.
const DemoClockScale = 200
