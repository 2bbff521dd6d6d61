//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package localstack

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// lockFile is held (flock, exclusive) while a stack uses the directory, so
// that a second `ecsflow local` on it is refused instead of both
// overwriting each other's saves. The kernel drops the lock when the
// process dies, kill -9 included.
const lockFile = ".lock"

// lock takes the directory's lock or says who holds it.
func (d *dataDir) lock() error {
	f, err := os.OpenFile(d.path(lockFile), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("lock data dir: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		holder, _ := os.ReadFile(d.path(lockFile))
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			who := "another process"
			if pid := strings.TrimSpace(string(holder)); pid != "" {
				who = "process " + pid
			}
			return &DataDirError{Dir: d.dir, Problem: "in use by " + who + " (another ecsflow local?): stop it, or use another --data-dir"}
		}
		return fmt.Errorf("lock data dir: %w", err)
	}
	_ = f.Truncate(0)
	_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	d.held = f
	return nil
}

// unlock releases the lock (closing the file drops the flock).
func (d *dataDir) unlock() {
	if d.held != nil {
		d.held.Close()
		d.held = nil
	}
}
