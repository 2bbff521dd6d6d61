package steps

import (
	"context"
	"errors"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/ecsflow/ecsflow/internal/ecsevents"
	"github.com/ecsflow/ecsflow/internal/ecsops"
	"github.com/ecsflow/ecsflow/internal/model"
)

// Function is one step Lambda (functions/<Name>): the AWS services whose
// clients its handler calls, the other engine dependencies it uses, and
// the handler. A functions/step-* main.go names exactly one Function, so
// its binary links that step's code, those services' SDK clients and
// those dependencies, and nothing else. TestFunctionWiring checks, from
// the source, that everything a handler can reach is wired.
type Function struct {
	Name     string
	Services []ecsops.Service
	Deps     []Dep
	handler  func(e *Engine) Handler
	// newNotifier builds the Notifications dependency's notifier
	// (WithNotifier).
	newNotifier func(cfg aws.Config, bus string) Notifier
}

// Dep is an engine dependency besides the target's AWS clients, built from
// the Lambda's configuration and environment into Config.
type Dep struct {
	name string
	wire func(w wiring, c *Config)
}

// wiring is what a Dep is built from: the Lambda's AWS configuration, its
// environment and the function's notifier factory (nil without
// WithNotifier).
type wiring struct {
	cfg         aws.Config
	getenv      func(string) string
	newNotifier func(cfg aws.Config, bus string) Notifier
}

// Name names the dependency ("tasks", "executions", "notifier").
func (d Dep) Name() string { return d.name }

// TaskTokens completes Step Functions task tokens (Config.Tasks).
func TaskTokens() Dep {
	return Dep{name: "tasks", wire: func(w wiring, c *Config) {
		c.Tasks = ecsevents.NewSFNCompleter(sfn.NewFromConfig(w.cfg))
	}}
}

// ExecutionHistory counts an execution's state transitions
// (Config.Executions).
func ExecutionHistory() Dep {
	return Dep{name: "executions", wire: func(w wiring, c *Config) {
		c.Executions = NewSFNHistory(sfn.NewFromConfig(w.cfg))
	}}
}

// Notifications publishes deployment status events (Config.Notifier) on
// EVENT_BUS_NAME ("" = the account's default bus), or none when
// ECSFLOW_NOTIFY is "off", with the notifier the function's WithNotifier
// factory builds. The EventBridge client is ebnotify's, linked only by
// the mains that notify, so the steps that never notify do not carry it. A
// function without a factory gets a notifier whose every notification
// fails with ErrNoNotifier (logged, never failing a step);
// TestFunctionWiring makes sure every notifying main has one.
func Notifications() Dep {
	return Dep{name: "notifier", wire: func(w wiring, c *Config) {
		if w.getenv(EnvNotify) == "off" {
			return
		}
		bus := w.getenv(EnvEventBus)
		if w.newNotifier == nil {
			c.Notifier = unwiredNotifier{}
			return
		}
		c.Notifier = w.newNotifier(w.cfg, bus)
	}}
}

// WithNotifier returns f with newNotifier building its notifier (the
// Notifications dependency) from the Lambda's AWS configuration and bus;
// a notifying step's main passes ebnotify.NewFromConfig.
func WithNotifier[N Notifier](f Function, newNotifier func(cfg aws.Config, bus string) N) Function {
	f.newNotifier = func(cfg aws.Config, bus string) Notifier { return newNotifier(cfg, bus) }
	return f
}

// WithServices returns f also building the clients of services (those
// built outside internal/ecsops, such as cwalarms.Service, which a main
// adds so that only its binary links them).
func WithServices(f Function, services ...ecsops.Service) Function {
	f.Services = append(slices.Clone(f.Services), services...)
	return f
}

// ErrNoNotifier is what a notification of a step function built without
// WithNotifier returns.
var ErrNoNotifier = errors.New("steps: this function was built without a notifier (steps.WithNotifier)")

// unwiredNotifier is the Notifier of a function without WithNotifier.
type unwiredNotifier struct{}

func (unwiredNotifier) NotifyDeployment(context.Context, *model.Deployment, string) error {
	return ErrNoNotifier
}

var _ Notifier = unwiredNotifier{}

// AllDeps is every dependency (FromEnv).
func AllDeps() []Dep { return []Dep{TaskTokens(), ExecutionHistory(), Notifications()} }

// ErrNoTaskTokens is what a step function built without TaskTokens gets if
// it completes a task token; TestFunctionWiring makes sure none does.
var ErrNoTaskTokens = errors.New("steps: this function was built without TaskTokens")

// unwiredTasks is the TaskCompleter of a function without TaskTokens.
type unwiredTasks struct{}

func (unwiredTasks) SendTaskSuccess(context.Context, string, string) error { return ErrNoTaskTokens }

func (unwiredTasks) SendTaskFailure(context.Context, string, string, string) error {
	return ErrNoTaskTokens
}

func (unwiredTasks) SendTaskHeartbeat(context.Context, string) error { return ErrNoTaskTokens }

var _ TaskCompleter = unwiredTasks{}

// Handler returns the function's handler on e.
func (f Function) Handler(e *Engine) Handler { return f.handler(e) }

// PrepareFunction is step-prepare.
func PrepareFunction() Function {
	return Function{Name: FnPrepare, Deps: []Dep{TaskTokens(), Notifications()}, Services: []ecsops.Service{ecsops.ECS()},
		handler: func(e *Engine) Handler { return adapt(e.Prepare) }}
}

// NextFunction is step-next.
func NextFunction() Function {
	return Function{Name: FnNext, Services: []ecsops.Service{ecsops.ECS()},
		handler: func(e *Engine) Handler { return adapt(e.Next) }}
}

// RegisterFunction is step-register-taskdef.
func RegisterFunction() Function {
	return Function{Name: FnRegister, Services: []ecsops.Service{ecsops.ECS()},
		handler: func(e *Engine) Handler { return adapt(e.RegisterTaskDefinition) }}
}

// UpdateServiceFunction is step-update-service.
func UpdateServiceFunction() Function {
	return Function{Name: FnUpdateService, Services: []ecsops.Service{ecsops.ECS()},
		handler: func(e *Engine) Handler { return adapt(e.UpdateService) }}
}

// WaitSteadyFunction is step-wait-steady.
func WaitSteadyFunction() Function {
	return Function{Name: FnWaitSteady, Deps: []Dep{TaskTokens()}, Services: []ecsops.Service{ecsops.ECS()},
		handler: func(e *Engine) Handler { return adapt(e.WaitSteady) }}
}

// CheckSteadyFunction is step-check-steady.
func CheckSteadyFunction() Function {
	return Function{Name: FnCheckSteady, Services: []ecsops.Service{ecsops.ECS()},
		handler: func(e *Engine) Handler { return adapt(e.CheckSteady) }}
}

// VerifyFunction is step-verify. It reads alarms: its main adds the
// CloudWatch alarm reader (WithServices(f, cwalarms.Service())), which
// this package does not link.
func VerifyFunction() Function {
	return Function{Name: FnVerify, Deps: []Dep{TaskTokens()},
		handler: func(e *Engine) Handler { return adapt(e.Verify) }}
}

// ApprovalFunction is step-approval.
func ApprovalFunction() Function {
	return Function{Name: FnApproval, Deps: []Dep{Notifications()}, handler: func(e *Engine) Handler { return adapt(e.Approval) }}
}

// RollbackFunction is step-rollback.
func RollbackFunction() Function {
	return Function{Name: FnRollback, Services: []ecsops.Service{ecsops.ECS(), ecsops.ELB(), ecsops.AutoScaling(), ecsops.Route53()},
		handler: func(e *Engine) Handler { return adapt(e.Rollback) }}
}

// FinishFunction is step-finish.
func FinishFunction() Function {
	return Function{Name: FnFinish, Deps: []Dep{TaskTokens(), ExecutionHistory(), Notifications()}, handler: func(e *Engine) Handler { return adapt(e.Finish) }}
}

// SetupServiceFunction is step-setup-service.
func SetupServiceFunction() Function {
	return Function{Name: FnSetupService, Services: []ecsops.Service{ecsops.ECS(), ecsops.ELB(), ecsops.AutoScaling(), ecsops.Route53()},
		handler: func(e *Engine) Handler { return adapt(e.SetupService) }}
}

// ScaleFunction is step-scale.
func ScaleFunction() Function {
	return Function{Name: FnScale, Services: []ecsops.Service{ecsops.ECS(), ecsops.AutoScaling()},
		handler: func(e *Engine) Handler { return adapt(e.Scale) }}
}

// ShiftTrafficFunction is step-shift-traffic.
func ShiftTrafficFunction() Function {
	return Function{Name: FnShiftTraffic, Services: []ecsops.Service{ecsops.ELB(), ecsops.Route53()},
		handler: func(e *Engine) Handler { return adapt(e.ShiftTraffic) }}
}

// CleanupFunction is step-cleanup.
func CleanupFunction() Function {
	return Function{Name: FnCleanup, Services: []ecsops.Service{ecsops.ECS(), ecsops.AutoScaling(), ecsops.Route53()},
		handler: func(e *Engine) Handler { return adapt(e.Cleanup) }}
}

// Functions is every step function, in the order the state machines use
// them (local mode and tests register all of them).
func Functions() []Function {
	return []Function{
		PrepareFunction(), NextFunction(), RegisterFunction(), UpdateServiceFunction(),
		WaitSteadyFunction(), CheckSteadyFunction(), VerifyFunction(), ApprovalFunction(),
		RollbackFunction(), FinishFunction(), SetupServiceFunction(), ScaleFunction(),
		ShiftTrafficFunction(), CleanupFunction(),
	}
}
