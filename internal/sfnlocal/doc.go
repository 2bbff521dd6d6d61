// Package sfnlocal is an embedded AWS Step Functions: an Amazon States
// Language interpreter (JSONPath mode) plus the Step Functions API over
// awsJson1_0, so the production sfn client and the project's ASL files run
// unchanged on a laptop and in tests.
//
// # What runs
//
// All eight state types (Task, Pass, Choice, Wait, Succeed, Fail, Parallel,
// and inline Map with ItemsPath, ItemSelector/Parameters,
// ItemProcessor/Iterator and MaxConcurrency); InputPath, Parameters,
// ResultSelector, ResultPath (including null) and OutputPath; the context
// object $$; every JSONPath-mode intrinsic; every Choice operator with its
// Path variant; Retry (first matching retrier only, MaxAttempts 0,
// BackoffRate, MaxDelaySeconds, JitterStrategy FULL) and Catch; Task
// TimeoutSeconds(Path) and HeartbeatSeconds(Path); a state machine's
// TimeoutSeconds.
//
// Task resources:
//   - arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER], called
//     directly (LambdaFunction* history events);
//   - arn:aws:states:::lambda:invoke[.waitForTaskToken], with FunctionName
//     and Payload, answering {ExecutedVersion, Payload, SdkHttpMetadata,
//     SdkResponseMetadata, StatusCode};
//   - arn:aws:states:::states:startExecution[.sync|.sync:2|.waitForTaskToken];
//   - any other ARN through a handler given to RegisterResource.
//
// Lambda functions resolve by bare function name (region, account and
// qualifier are ignored), so RegisterLambda("step-scale", h) serves
// "arn:aws:lambda:eu-west-1:1:function:step-scale:live" too. An unregistered
// function fails the task with States.TaskFailed and a cause naming it.
//
// # Errors
//
// Data-flow failures (a path that matches nothing, a ResultPath that cannot
// be applied, a failing intrinsic, a Choice Variable that is absent) are
// States.Runtime, which, as on AWS, neither Retry nor Catch (not even
// States.ALL) intercepts. In ErrorEquals, States.ALL matches everything else,
// States.TaskFailed matches everything but the timeouts, and States.Timeout
// also matches States.HeartbeatTimeout. A Lambda handler's error is named
// the way aws-lambda-go names it (reflect type name, pointer stripped; a
// messages.InvokeResponse_Error value keeps its Type), its cause is
// {"errorMessage","errorType"} as JSON, and a panic is reported the same way.
//
// # JSONPath
//
// Paths are handled by a small, strict implementation in this package
// rather than a general JSONPath library: ASL needs Reference Paths (single
// nodes only, enforced at load time), a Set that creates missing objects for
// ResultPath, the definite/indefinite split (a definite path that matches
// nothing is an error, an indefinite one yields a list) and json.Number
// preservation. Supported: $, $$, .name, ['name'], [n], [-n], [*], .*,
// [a,b], [start:end], ..name, ..* and [?(@.path OP literal)] filters.
//
// # Known differences from AWS
//
// JSON objects keep their key order, as on AWS. HeartbeatSeconds only
// applies to .waitForTaskToken tasks. Only STANDARD state machines, JSONPath
// (not JSONata) and inline Map are supported; Assign/variables, activities,
// distributed Map and redrive are not. An execution started again with the
// same name and input returns the existing one only while it is RUNNING (as
// AWS does); afterwards it is ExecutionAlreadyExists.
//
// # Time
//
// Waits, retry intervals, task timeouts, heartbeats and execution timeouts
// all run on the simclock.Clock given in Options, so tests and local mode
// can scale or step time.
package sfnlocal
