//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package localstack

// lockFile is not used where flock is not available: two stacks on one
// data directory are not detected there.
const lockFile = ".lock"

func (d *dataDir) lock() error { return nil }

func (d *dataDir) unlock() {}
