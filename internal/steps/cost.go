package steps

import "github.com/ecsflow/ecsflow/internal/model"

// Prices (USD, us-east-1, list prices) behind a deployment's estimated cost.
const (
	// PricePerStateTransition is Step Functions Standard: $0.025 per 1,000.
	PricePerStateTransition = 0.000025
	// PricePerLambdaGBSecond is Lambda on arm64: $0.0000133334 per GB-second.
	PricePerLambdaGBSecond = 0.0000133334
	// PricePerLambdaRequest is $0.20 per million requests.
	PricePerLambdaRequest = 0.0000002
	// PricePerDynamoDBWrite is on-demand: $0.625 per million write request units.
	PricePerDynamoDBWrite = 0.000000625
)

// addUsage adds one step invocation's consumption; invocations is the
// deployment's step invocations so far (for the request price).
func addUsage(u *model.Usage, calls map[string]int64, gbSeconds float64, writes int64, invocations int) {
	if len(calls) > 0 && u.APICalls == nil {
		u.APICalls = map[string]int64{}
	}
	for op, n := range calls {
		u.APICalls[op] += n
	}
	u.LambdaGBSeconds += gbSeconds
	u.DynamoDBWrites += writes
	u.EstimatedCostUSD = EstimateCost(*u, int64(invocations))
}

// EstimateCost prices a usage record.
func EstimateCost(u model.Usage, lambdaRequests int64) float64 {
	return float64(u.StateTransitions)*PricePerStateTransition +
		u.LambdaGBSeconds*PricePerLambdaGBSecond +
		float64(lambdaRequests)*PricePerLambdaRequest +
		float64(u.DynamoDBWrites)*PricePerDynamoDBWrite
}
