//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package localstack

import (
	"context"
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"
)

// TestDataDirIsLocked: a second stack on a data dir in use is refused,
// naming the process that holds it; once the first stops, it starts.
func TestDataDirIsLocked(t *testing.T) {
	dir := t.TempDir()
	s1, err := Start(context.Background(), Config{DataDir: dir, Logger: quietLog()})
	if err != nil {
		t.Fatal(err)
	}
	s2, err := Start(context.Background(), Config{DataDir: dir, Logger: quietLog()})
	var de *DataDirError
	if err == nil {
		s2.Close()
		t.Fatal("a second stack started on a data dir in use")
	}
	if !errors.As(err, &de) || !strings.Contains(err.Error(), "in use by process "+strconv.Itoa(os.Getpid())) {
		t.Errorf("second start: %v, want a DataDirError naming this process", err)
	}
	if err := s1.Close(); err != nil {
		t.Fatal(err)
	}
	s3, err := Start(context.Background(), Config{DataDir: dir, Logger: quietLog()})
	if err != nil {
		t.Fatalf("start after the first stopped: %v", err)
	}
	s3.Close()
}
