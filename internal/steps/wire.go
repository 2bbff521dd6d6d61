package steps

import "github.com/ecsflow/ecsflow/internal/ecsops"

// Function is one step Lambda (functions/<Name>): the AWS services whose
// clients its handler calls, and the handler. A functions/step-* main.go
// names exactly one Function, so its binary links that step's code and
// those services' SDK clients and nothing else. TestFunctionWiring checks,
// from the source, that every client a handler can reach is wired.
type Function struct {
	Name     string
	Services []ecsops.Service
	handler  func(e *Engine) Handler
}

// Handler returns the function's handler on e.
func (f Function) Handler(e *Engine) Handler { return f.handler(e) }

// PrepareFunction is step-prepare.
func PrepareFunction() Function {
	return Function{Name: FnPrepare, Services: []ecsops.Service{ecsops.ECS()},
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
	return Function{Name: FnWaitSteady, Services: []ecsops.Service{ecsops.ECS()},
		handler: func(e *Engine) Handler { return adapt(e.WaitSteady) }}
}

// CheckSteadyFunction is step-check-steady.
func CheckSteadyFunction() Function {
	return Function{Name: FnCheckSteady, Services: []ecsops.Service{ecsops.ECS()},
		handler: func(e *Engine) Handler { return adapt(e.CheckSteady) }}
}

// VerifyFunction is step-verify.
func VerifyFunction() Function {
	return Function{Name: FnVerify, Services: []ecsops.Service{ecsops.CloudWatch()},
		handler: func(e *Engine) Handler { return adapt(e.Verify) }}
}

// ApprovalFunction is step-approval.
func ApprovalFunction() Function {
	return Function{Name: FnApproval, handler: func(e *Engine) Handler { return adapt(e.Approval) }}
}

// RollbackFunction is step-rollback.
func RollbackFunction() Function {
	return Function{Name: FnRollback, Services: []ecsops.Service{ecsops.ECS(), ecsops.ELB(), ecsops.AutoScaling(), ecsops.Route53()},
		handler: func(e *Engine) Handler { return adapt(e.Rollback) }}
}

// FinishFunction is step-finish.
func FinishFunction() Function {
	return Function{Name: FnFinish, handler: func(e *Engine) Handler { return adapt(e.Finish) }}
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
