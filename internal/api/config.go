package api

import (
	"encoding/json"
	"fmt"

	"github.com/ecsflow/ecsflow/internal/model"
)

// LambdaConfig is the API function's configuration, from its environment.
type LambdaConfig struct {
	Table         string
	StateMachines map[model.StrategyType]string
}

// strategyEnv names the per-strategy variables STATE_MACHINE_ARN_<STRATEGY>.
var strategyEnv = map[model.StrategyType]string{
	model.StrategyRolling:   "STATE_MACHINE_ARN_ROLLING",
	model.StrategyCanary:    "STATE_MACHINE_ARN_CANARY",
	model.StrategyBlueGreen: "STATE_MACHINE_ARN_BLUE_GREEN",
	model.StrategyDaemon:    "STATE_MACHINE_ARN_DAEMON",
}

// ConfigFromEnv reads TABLE_NAME and the state machine ARNs: either
// STATE_MACHINE_ARNS, a JSON object keyed by strategy
// ({"ROLLING":"arn:...","CANARY":"arn:..."}), or one STATE_MACHINE_ARN_<STRATEGY>
// per strategy (ROLLING, CANARY, BLUE_GREEN, DAEMON); the per-strategy
// variables win over the JSON. A strategy without a state machine makes its
// deployments fail to start, with that reason.
func ConfigFromEnv(getenv func(string) string) (LambdaConfig, error) {
	c := LambdaConfig{Table: getenv("TABLE_NAME"), StateMachines: map[model.StrategyType]string{}}
	if c.Table == "" {
		return c, fmt.Errorf("TABLE_NAME is not set")
	}
	if raw := getenv("STATE_MACHINE_ARNS"); raw != "" {
		var m map[string]string
		if err := json.Unmarshal([]byte(raw), &m); err != nil {
			return c, fmt.Errorf("STATE_MACHINE_ARNS is not a JSON object of strategy to ARN: %w", err)
		}
		for k, v := range m {
			st := model.StrategyType(k)
			if _, ok := strategyEnv[st]; !ok {
				return c, fmt.Errorf("STATE_MACHINE_ARNS names unknown strategy %q", k)
			}
			c.StateMachines[st] = v
		}
	}
	for st, name := range strategyEnv {
		if v := getenv(name); v != "" {
			c.StateMachines[st] = v
		}
	}
	if len(c.StateMachines) == 0 {
		return c, fmt.Errorf("no state machine ARNs: set STATE_MACHINE_ARNS or STATE_MACHINE_ARN_<STRATEGY>")
	}
	return c, nil
}
