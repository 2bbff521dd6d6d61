// Package localrules puts the EventBridge rules of ecsevents (the same
// patterns the CDK app deploys) on the embedded event bus of local mode and
// the tests. It is separate from ecsevents so that the Lambda functions do
// not carry the local bus.
package localrules

import (
	"fmt"

	"github.com/ecsflow/ecsflow/internal/ecsevents"
	"github.com/ecsflow/ecsflow/internal/eventbus"
)

// RuleInstaller is the part of the local bus (eventbus.Bus) that Install uses.
type RuleInstaller interface {
	PutRule(in eventbus.Rule) (string, error)
	PutTargets(ruleName, eventBus string, targets []eventbus.Target) ([]eventbus.FailedEntry, error)
}

var _ RuleInstaller = (*eventbus.Bus)(nil)

// Install puts the rules on the default bus of b, each targeting the ARN
// that functionARN returns for its function; a rule whose function gets ""
// is skipped (for example trigger, when no trigger function runs).
func Install(b RuleInstaller, functionARN func(function string) string) error {
	for _, r := range ecsevents.Rules() {
		arn := functionARN(r.Function)
		if arn == "" {
			continue
		}
		if _, err := b.PutRule(eventbus.Rule{Name: "ecsflow-" + r.Name, EventPattern: r.Pattern, Description: r.Description}); err != nil {
			return fmt.Errorf("put rule %s: %w", r.Name, err)
		}
		failed, err := b.PutTargets("ecsflow-"+r.Name, "", []eventbus.Target{{Id: r.Function, Arn: arn}})
		if err != nil {
			return fmt.Errorf("put targets of rule %s: %w", r.Name, err)
		}
		if len(failed) > 0 {
			return fmt.Errorf("put targets of rule %s: %s: %s", r.Name, failed[0].ErrorCode, failed[0].ErrorMessage)
		}
	}
	return nil
}
