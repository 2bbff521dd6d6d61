package localstack

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ecsflow/ecsflow/internal/awsemu"
)

// A data directory (Config.DataDir, `ecsflow local --data-dir DIR`) keeps
// the local system's state across restarts. It holds three files, each
// replaced atomically (written to a temporary file in DIR, synced, then
// renamed over the old one):
//
//	ecsflow-local.json  what wrote the directory: {"format": "ecsflow-local",
//	                    "version": 1, "region", "accountId", "table",
//	                    "savedAt" (simulated time), "dynamodb": "embedded"|"external"}
//	aws.json            the AWS emulator's world (awsemu.Emulator.Save)
//	dynamodb.json       the embedded DynamoDB (internal/memdynamo's snapshot
//	                    file, see its persist.go; absent with
//	                    Config.DynamoDBEndpoint: that database keeps its own data)
//
// The stack writes them on Close and, while it runs, every SaveInterval
// when something changed, so a kill -9 loses at most that much. A
// directory written by another format version, or for another region,
// account or table, is refused with a *DataDirError. On start the
// simulated clock resumes no earlier than the saved time, and the
// deployments and pipeline executions that were in progress when the
// stack stopped are marked FAILED (see recoverInterrupted): their Step
// Functions executions and timers do not survive a restart.

// DataDirVersion is the version of the data directory layout this build
// reads and writes.
const DataDirVersion = 1

const (
	dataDirFormat = "ecsflow-local"
	metaFile      = "ecsflow-local.json"
	awsFile       = "aws.json"
	tableFile     = "dynamodb.json"
)

// DataDirError is a data directory the stack refuses to use.
type DataDirError struct {
	Dir     string
	Problem string
}

func (e *DataDirError) Error() string {
	return fmt.Sprintf("data dir %s: %s", e.Dir, e.Problem)
}

type dataMeta struct {
	Format    string    `json:"format"`
	Version   int       `json:"version"`
	Region    string    `json:"region"`
	AccountID string    `json:"accountId"`
	Table     string    `json:"table"`
	SavedAt   time.Time `json:"savedAt"`
	DynamoDB  string    `json:"dynamodb"`
}

// dataDir is an opened data directory.
type dataDir struct {
	dir  string
	meta *dataMeta // nil: a new directory
	held *os.File  // the lock file, while held
}

// openDataDir creates dir if needed, reads what an earlier run wrote,
// refusing what this build cannot read, and locks it (release with unlock).
func openDataDir(dir, region, account, table string) (*dataDir, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	d := &dataDir{dir: dir}
	raw, err := os.ReadFile(filepath.Join(dir, metaFile))
	if errors.Is(err, fs.ErrNotExist) {
		for _, f := range []string{awsFile, tableFile} {
			if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
				return nil, &DataDirError{Dir: dir, Problem: fmt.Sprintf("has %s but no %s: not written by ecsflow local; use an empty directory", f, metaFile)}
			}
		}
		if err := d.lock(); err != nil {
			return nil, err
		}
		return d, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read data dir: %w", err)
	}
	var m dataMeta
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, &DataDirError{Dir: dir, Problem: fmt.Sprintf("%s is not valid JSON (%v)", metaFile, err)}
	}
	switch {
	case m.Format != dataDirFormat:
		return nil, &DataDirError{Dir: dir, Problem: fmt.Sprintf("%s has format %q, not %q", metaFile, m.Format, dataDirFormat)}
	case m.Version != DataDirVersion:
		return nil, &DataDirError{Dir: dir, Problem: fmt.Sprintf("written by an incompatible ecsflow local (data dir version %d; this build reads version %d): "+
			"run the ecsflow that wrote it, or start with an empty --data-dir", m.Version, DataDirVersion)}
	case m.Region != region || m.AccountID != account:
		return nil, &DataDirError{Dir: dir, Problem: fmt.Sprintf("holds region %s account %s, not region %s account %s (ARNs would not match): "+
			"pass --region %s --account %s, or use another --data-dir", m.Region, m.AccountID, region, account, m.Region, m.AccountID)}
	case m.Table != table:
		return nil, &DataDirError{Dir: dir, Problem: fmt.Sprintf("holds table %s, not %s: pass --table %s, or use another --data-dir", m.Table, table, m.Table)}
	}
	d.meta = &m
	if err := d.lock(); err != nil {
		return nil, err
	}
	return d, nil
}

func (d *dataDir) path(name string) string { return filepath.Join(d.dir, name) }

// exists reports whether the named file is there.
func (d *dataDir) exists(name string) bool {
	_, err := os.Stat(d.path(name))
	return err == nil
}

// writeAtomic replaces the named file with what write produces: a reader
// sees the old file or the new one, never a part.
func (d *dataDir) writeAtomic(name string, write func(io.Writer) error) error {
	tmp, err := os.CreateTemp(d.dir, "."+name+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	defer os.Remove(tmp.Name()) // after a successful rename, there is nothing to remove
	if err := write(tmp); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err := os.Rename(tmp.Name(), d.path(name)); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	return nil
}

// resumeAt is when a restarted clock should start: now, or the saved
// simulated time if that is later (a fast clock runs ahead of real time).
func (d *dataDir) resumeAt(now time.Time) time.Time {
	if d.meta != nil && d.meta.SavedAt.After(now) {
		return d.meta.SavedAt
	}
	return now
}

// tableSyncer is the embedded table (a *memdynamo.DB opened on
// dynamodb.json): Sync writes its file atomically when it changed.
type tableSyncer interface {
	Sync() error
}

// writeCounter counts the requests its handler served that may have
// changed something, so the saver knows whether to save.
type writeCounter struct {
	h       http.Handler
	isWrite func(*http.Request) bool
	writes  atomic.Int64
}

func (c *writeCounter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.h.ServeHTTP(w, r)
	if c.isWrite(r) {
		c.writes.Add(1)
	}
}

func (c *writeCounter) count() int64 {
	if c == nil {
		return 0
	}
	return c.writes.Load()
}

// targetOp is the operation of an X-Amz-Target header ("" if none).
func targetOp(r *http.Request) string {
	op := r.Header.Get("X-Amz-Target")
	if i := strings.LastIndexByte(op, '.'); i >= 0 {
		op = op[i+1:]
	}
	return op
}

// ddbWrite: DynamoDB's writing operations.
func ddbWrite(r *http.Request) bool {
	switch targetOp(r) {
	case "PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems", "CreateTable", "DeleteTable":
		return true
	}
	return false
}

// awsWrite: any emulator request but the obvious reads (GET, and awsJson
// operations named Describe*, List*, Get*, BatchGet*, Discover*). ELBv2's
// awsQuery requests name their action in the body and all count.
func awsWrite(r *http.Request) bool {
	if r.Method == http.MethodGet {
		return false
	}
	op := targetOp(r)
	for _, p := range []string{"Describe", "List", "Get", "BatchGet", "Discover"} {
		if strings.HasPrefix(op, p) {
			return false
		}
	}
	return true
}

// saver writes the data directory: on demand (Close) and every interval
// when the emulator's world or the table changed.
type saver struct {
	dir         *dataDir
	emu         *awsemu.Emulator
	table       tableSyncer   // nil: the table lives elsewhere
	tableWrites *writeCounter // the embedded table's writes (nil without one)
	awsWrites   *writeCounter // the emulator's non-read requests
	now         func() time.Time
	meta        dataMeta
	mu          sync.Mutex // one save at a time
	lastGen     uint64
	lastW       [2]int64
	saved       bool
	stop        chan struct{}
	done        chan struct{}
	stopOnce    sync.Once
	log         func(msg string, args ...any)
}

// save writes every file if force or something changed since the last save.
func (sv *saver) save(ctx context.Context, force bool) error {
	sv.mu.Lock()
	defer sv.mu.Unlock()
	gen := sv.emu.Generation()
	writes := [2]int64{sv.tableWrites.count(), sv.awsWrites.count()}
	if !force && sv.saved && gen == sv.lastGen && writes == sv.lastW {
		return nil
	}
	var errs []error
	if err := sv.dir.writeAtomic(awsFile, sv.emu.Save); err != nil {
		errs = append(errs, err)
	}
	if sv.table != nil {
		if err := sv.table.Sync(); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("save data dir %s: %w", sv.dir.dir, errors.Join(errs...))
	}
	m := sv.meta
	m.SavedAt = sv.now().UTC()
	if err := sv.dir.writeAtomic(metaFile, func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(m)
	}); err != nil {
		return fmt.Errorf("save data dir %s: %w", sv.dir.dir, err)
	}
	sv.lastGen, sv.lastW, sv.saved = gen, writes, true
	return nil
}

// run saves every interval until stopped.
func (sv *saver) run(interval time.Duration) {
	defer close(sv.done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-sv.stop:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			if err := sv.save(ctx, false); err != nil {
				sv.log("periodic save", "error", err)
			}
			cancel()
		}
	}
}

// halt stops the periodic saves and waits for one in progress.
func (sv *saver) halt() {
	sv.stopOnce.Do(func() {
		close(sv.stop)
		<-sv.done
	})
}

// readFile opens a data dir file for a loader.
func (d *dataDir) load(name string, load func(io.Reader) error) error {
	raw, err := os.ReadFile(d.path(name))
	if err != nil {
		return fmt.Errorf("read %s: %w", name, err)
	}
	if err := load(bytes.NewReader(raw)); err != nil {
		var ve *awsemu.StateVersionError
		if errors.As(err, &ve) {
			return &DataDirError{Dir: d.dir, Problem: fmt.Sprintf("%s: %v; start with an empty --data-dir", name, ve)}
		}
		return fmt.Errorf("load %s: %w", name, err)
	}
	return nil
}
