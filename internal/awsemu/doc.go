// Package awsemu is an AWS-wire emulator of the ECS world: ECS, ECR,
// Application Auto Scaling and Cloud Map over awsJson1_1, with ELBv2
// (awsQuery), Route 53 (restXml) and CloudWatch alarms (rpcv2Cbor) from its
// sub-packages elbv2emu, route53emu and cwemu. Everything runs on one
// simulated clock (internal/simclock) with deterministic fault injection.
//
// # Using it
//
// An *Emulator is an http.Handler. Serve it on loopback (the `ecsflow
// emulator` command does) and point unmodified aws-sdk-go-v2 clients at it
// with BaseEndpoint, AWS_ENDPOINT_URL or AWS_ENDPOINT_URL_<SERVICE>, with
// any static credentials. Requests are routed by protocol: X-Amz-Target
// prefixes for the awsJson services (plus handlers added through
// Options.Mount, e.g. "AWSStepFunctions" and "AWSEvents"), the CloudWatch
// rpcv2Cbor path, the Route 53 /2013-04-01/ paths, and form-encoded
// awsQuery requests for ELBv2. Errors are written as each protocol does, so
// the SDK's typed errors (errors.As with *ecstypes.ServiceNotFoundException
// and so on) work. Cloud Map's DiscoverInstances uses the "data-" host
// prefix; disable it (smithyhttp.DisableEndpointHostPrefix) for loopback.
//
// # The simulated world
//
// Services carry PRIMARY and ACTIVE deployments with rolloutState, counts
// and service events. Tasks go PROVISIONING, PENDING, RUNNING, then
// DEACTIVATING (while their targets drain), STOPPING and STOPPED, with
// stopCode, stoppedReason and container exit codes; stopped tasks are
// forgotten after Timings.StoppedTTL (an hour). Rolling updates honour
// minimumHealthyPercent and maximumPercent; the deployment circuit breaker
// fails a deployment after clamp(ceil(desired/2), 3, 200) failed tasks and
// rolls back to the last completed deployment when asked, as do deployment
// alarms (deploymentConfiguration.alarms) when a watched alarm goes to
// ALARM. Tasks of load-balanced services register in their target groups
// when RUNNING; the world decides their health from the group's health
// check (interval x healthy threshold) and the fault plan, stops tasks
// that fail it once the grace period is over, and waits for the group's
// deregistration delay when stopping them. DAEMON services run one task per
// container instance; EXTERNAL services run task sets; App Auto Scaling
// clamps desired counts; Cloud Map instances follow service tasks.
//
// The world runs its timers from its own deadline-ordered queue, so a fast
// clock on a loaded machine cannot reorder the simulation; on a
// simclock.Manual clock a given seed reproduces the same world, IDs,
// events and throttling decisions.
//
// The default timings (Timings) are realistic: 3s to attach the ENI, an
// 8-20s image pull, 2s to start, 5s to stop; ELB defaults are AWS's (30s
// interval, 5 healthy checks, 300s deregistration delay).
//
// # Events
//
// The world emits the EventBridge events AWS emits, with AWS's envelope
// and detail shapes (samples in the repository's events/ folder): "ECS
// Task State Change", "ECS Deployment State Change", "ECS Service Action",
// "ECR Image Action" and "CloudWatch Alarm State Change". They reach
// Options.Sink in order, on one goroutine; Flush waits for delivery.
//
// # Control API
//
// Under /_emulator/ on the same listener:
//
//	POST   /_emulator/clock      {"scale": N}      set the clock's scale (Scaled clocks)
//	POST   /_emulator/clock      {"advanceSeconds": N}  move a Manual clock
//	GET    /_emulator/clock                        current simulated time and scale
//	GET    /_emulator/events?after=SEQ             recent events (Options.KeepEvents)
//	POST   /_emulator/ecr/push   {"repository":"team/web","tag":"v2"}
//	POST   /_emulator/faults     <fault plan>      replace the fault plan
//	GET    /_emulator/faults                       the current plan
//	DELETE /_emulator/faults                       clear it
//	GET    /_emulator/state                        the whole world as JSON
//	GET    /_emulator/health                       200 once the emulator serves
//
// # Fault plans
//
// A plan is data; a given seed gives the same results on a manual clock:
//
//	{"seed":1,"rules":[
//	  {"image":"repo/web:crash*","behavior":"crash","afterSeconds":5},
//	  {"image":"*:slow*","behavior":"slow-start","afterSeconds":120},
//	  {"image":"*:sick*","behavior":"elb-unhealthy"},
//	  {"image":"*:ill*","behavior":"unhealthy"},
//	  {"api":"ecs:DescribeServices","throttleRate":0.3},
//	  {"api":"ecs:UpdateService","latencyMs":200},
//	  {"alarm":"web-5xx","state":"ALARM","atSeconds":60}]}
//
// Image globs match the image as written or without its registry host;
// '*' matches any run of characters. Durations are simulated. API rules
// name "<service>:<Operation>" with service one of ecs,
// elasticloadbalancing (or elbv2), application-autoscaling,
// servicediscovery, route53, cloudwatch, ecr, states and events; throttled
// calls get ThrottlingException (Throttling for awsQuery and restXml).
package awsemu
