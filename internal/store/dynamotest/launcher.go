package dynamotest

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// launcher returns what java runs to start DynamoDB Local on loopback: the
// path of LoopbackDynamoDBLocal.class, compiled once with javac into a
// directory next to the emulator (keyed by the source's hash, so an edit
// recompiles), or, without javac, the .java source written to work, which
// java 11+ compiles on every start.
func launcher(emulatorDir, work, classpath string) (string, error) {
	sum := sha256.Sum256(launcherSource)
	classDir := filepath.Join(filepath.Dir(emulatorDir), "launcher-"+hex.EncodeToString(sum[:6]))
	class := filepath.Join(classDir, "LoopbackDynamoDBLocal.class")
	if _, err := os.Stat(class); err == nil {
		return class, nil
	}
	src := filepath.Join(work, "LoopbackDynamoDBLocal.java")
	if err := os.WriteFile(src, launcherSource, 0o644); err != nil {
		return "", fmt.Errorf("dynamodb local launcher: %w", err)
	}
	if _, err := exec.LookPath("javac"); err != nil {
		return src, nil
	}
	tmp, err := os.MkdirTemp(filepath.Dir(emulatorDir), ".launcher-")
	if err != nil {
		return src, nil
	}
	defer os.RemoveAll(tmp)
	cmd := exec.Command("javac", "-nowarn", "-cp", classpath, "-d", tmp, src)
	cmd.Dir = emulatorDir
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("compile the dynamodb local launcher: %w: %s", err, tail(out))
	}
	if err := os.Rename(tmp, classDir); err != nil {
		// Another test binary compiled it first, or the cache is read-only.
		if _, serr := os.Stat(class); serr == nil {
			return class, nil
		}
		return src, nil
	}
	return class, nil
}
