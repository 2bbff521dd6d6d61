package ecsflow

// PendingFunctions are the functions that the shipped state machines
// (statemachines/*.asl.json) name but whose functions/<name> folder has not
// landed yet. While a name is listed here, the tests of the shipped
// definitions synthesize with a stand-in folder for it, so the rest of the
// stack is still checked; `cdk synth` / `make synth` still fails with
// MissingSubstitutionError, because such a stack cannot be deployed.
//
// The tests fail when a placeholder names a function that is neither a
// folder nor listed here, and when a listed function has landed (remove it
// from the list then).
//
// Empty now: every function that the shipped definitions (rolling, daemon,
// canary, bluegreen, pipeline) name has landed.
var PendingFunctions []string
