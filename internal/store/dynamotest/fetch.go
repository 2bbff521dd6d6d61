package dynamotest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// ensureJar makes sure DynamoDBLocal.jar is in dir (".../package/emulator").
// When it is not, it fetches it the way `make dynamodb-local` does: npm pack
// amplify-dynamodb-simulator@Version and untar it, into a temporary
// directory next to the cache that is renamed into place, so concurrent test
// binaries never see half an install.
func ensureJar(dir string) error {
	jar := filepath.Join(dir, "DynamoDBLocal.jar")
	if _, err := os.Stat(jar); err == nil {
		return nil
	}
	if filepath.Base(dir) != "emulator" || filepath.Base(filepath.Dir(dir)) != "package" {
		return fmt.Errorf("%s is missing, and %s does not end in package/emulator, so it cannot be fetched there", jar, dir)
	}
	root := filepath.Dir(filepath.Dir(dir))
	for _, tool := range []string{"npm", "tar"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("%s is missing and %s is not installed to fetch it: %w", jar, tool, err)
		}
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return fmt.Errorf("fetch dynamodb local: %w", err)
	}
	tmp, err := os.MkdirTemp(root, ".fetch-")
	if err != nil {
		return fmt.Errorf("fetch dynamodb local: %w", err)
	}
	defer os.RemoveAll(tmp)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	pkg := "amplify-dynamodb-simulator-" + Version + ".tgz"
	steps := [][]string{
		{"npm", "pack", "--silent", "amplify-dynamodb-simulator@" + Version},
		{"tar", "xzf", pkg},
	}
	for _, st := range steps {
		cmd := exec.CommandContext(ctx, st[0], st[1:]...)
		cmd.Dir = tmp
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("fetch dynamodb local: %v: %w: %s", st, err, tail(out))
		}
	}
	if _, err := os.Stat(filepath.Join(tmp, "package", "emulator", "DynamoDBLocal.jar")); err != nil {
		return fmt.Errorf("fetch dynamodb local: the package holds no emulator/DynamoDBLocal.jar: %w", err)
	}
	dst := filepath.Join(root, "package")
	if err := os.Rename(filepath.Join(tmp, "package"), dst); err != nil {
		// Another test binary may have won the race.
		if _, serr := os.Stat(jar); serr == nil {
			return nil
		}
		return fmt.Errorf("fetch dynamodb local: %w", errors.Join(err))
	}
	return nil
}
