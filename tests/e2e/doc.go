// Package e2e holds ecsflow's end-to-end scenarios and benchmarks: each runs
// the whole local stack (internal/localstack) — the AWS emulator over HTTP,
// the embedded Step Functions running the real statemachines/*.asl.json,
// the real step and ecs-events handlers, the local event bus with the
// shared rule patterns, the store on an embedded DynamoDB — and drives it
// through the REST API the way a user does, with the AWS SDK against the
// emulator for the world around it (clusters, load balancers, alarms).
package e2e
