package main

// recoveryActions undo or stop a deployment: rollback restores the last
// known good revision (its counts, traffic and auto scaling), abort stops
// where it stands. Both take --comment (newControlCmd, approve.go).
var recoveryActions = []string{"rollback", "abort"}
