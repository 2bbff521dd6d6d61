package dynamotest

import (
	"os/exec"
	"syscall"
)

// setProcAttrs makes the kernel kill DynamoDB Local when the test binary
// dies, so no JVM outlives a crashed or killed test.
func setProcAttrs(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
