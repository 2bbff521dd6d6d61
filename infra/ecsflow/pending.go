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
// Empty now: every step-* that rolling.asl.json and daemon.asl.json name has
// landed. Canary, blue/green and pipeline definitions may need entries
// (step-setup-service, step-scale, step-shift-traffic, step-swap,
// step-cleanup) if they land before their functions.
var PendingFunctions []string
