package memdynamo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Snapshot file format (SnapshotVersion 1), one JSON document:
//
//	{
//	  "format": "ecsflow-memdynamo",
//	  "version": 1,
//	  "savedAt": "2026-01-02T15:04:05Z",
//	  "tables": [
//	    {
//	      "definition": { CreateTableInput on the wire: TableName, KeySchema,
//	                      AttributeDefinitions, GlobalSecondaryIndexes, BillingMode },
//	      "createdAt": "2026-01-02T15:04:05Z",
//	      "ttl": {"attribute": "ttl", "enabled": true},      (optional)
//	      "items": [ {"PK": {"S": "..."}, ...}, ... ]         (DynamoDB JSON, key order)
//	    }
//	  ]
//	}
//
// Open refuses another format or a newer version, so an old binary never
// half-reads a new file. Sync writes a temporary file in the same
// directory, fsyncs it and renames it over the snapshot, so a crash leaves
// the old or the new snapshot, never a torn one.

// SnapshotVersion is the version of the snapshot format Sync writes.
const SnapshotVersion = 1

const snapshotFormat = "ecsflow-memdynamo"

type snapshot struct {
	Format  string          `json:"format"`
	Version int             `json:"version"`
	SavedAt time.Time       `json:"savedAt"`
	Tables  []snapshotTable `json:"tables"`
}

type snapshotTable struct {
	Definition json.RawMessage   `json:"definition"`
	CreatedAt  time.Time         `json:"createdAt"`
	TTL        *snapshotTTL      `json:"ttl,omitempty"`
	Items      []json.RawMessage `json:"items"`
}

type snapshotTTL struct {
	Attribute string `json:"attribute"`
	Enabled   bool   `json:"enabled"`
}

// Open returns a database backed by the snapshot file at path: it loads
// the file when it exists (an empty database otherwise) and Sync and Close
// write it back.
func Open(path string) (*DB, error) {
	if path == "" {
		return nil, errors.New("open memdynamo: empty snapshot path")
	}
	db := New()
	db.path = path
	raw, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return db, nil
	}
	if err != nil {
		return nil, fmt.Errorf("open memdynamo snapshot: %w", err)
	}
	if err := db.load(raw); err != nil {
		return nil, fmt.Errorf("open memdynamo snapshot %s: %w", path, err)
	}
	db.saved = db.gen
	return db, nil
}

func (db *DB) load(raw []byte) error {
	var s snapshot
	if err := json.Unmarshal(raw, &s); err != nil {
		return fmt.Errorf("decode: %w", err)
	}
	if s.Format != snapshotFormat {
		return fmt.Errorf("not a memdynamo snapshot (format %q)", s.Format)
	}
	if s.Version < 1 || s.Version > SnapshotVersion {
		return fmt.Errorf("snapshot version %d, this build reads up to %d", s.Version, SnapshotVersion)
	}
	for i, st := range s.Tables {
		var def dynamodb.CreateTableInput
		if err := decodeRequest(st.Definition, &def); err != nil {
			return fmt.Errorf("table %d definition: %w", i, err)
		}
		if _, err := db.CreateTable(context.Background(), &def); err != nil {
			return fmt.Errorf("table %s: %w", aws.ToString(def.TableName), err)
		}
		t := db.tables[*def.TableName]
		t.created = st.CreatedAt
		if st.TTL != nil {
			t.ttlAttr, t.ttlOn = st.TTL.Attribute, st.TTL.Enabled
		}
		for j, rawItem := range st.Items {
			dec := json.NewDecoder(bytes.NewReader(rawItem))
			dec.UseNumber()
			var m map[string]any
			if err := dec.Decode(&m); err != nil {
				return fmt.Errorf("table %s item %d: %w", t.name, j, err)
			}
			it := make(item, len(m))
			for k, v := range m {
				av, err := decodeAV(v, k)
				if err != nil {
					return fmt.Errorf("table %s item %d: %w", t.name, j, err)
				}
				it[k] = av
			}
			if err := checkItem(it); err != nil {
				return fmt.Errorf("table %s item %d: %w", t.name, j, err)
			}
			h, r, err := t.primaryKey(it, "item")
			if err != nil {
				return fmt.Errorf("table %s item %d: %w", t.name, j, err)
			}
			idx, err := t.indexEntries(it, h, r)
			if err != nil {
				return fmt.Errorf("table %s item %d: %w", t.name, j, err)
			}
			t.put(h, r, it, idx)
		}
	}
	return nil
}

// Path is the snapshot file ("" for a database made by New).
func (db *DB) Path() string { return db.path }

// Sync writes the snapshot file atomically when anything changed since the
// last Sync or Open. It does nothing for a database made by New.
func (db *DB) Sync() error {
	if db.path == "" {
		return nil
	}
	db.syncMu.Lock()
	defer db.syncMu.Unlock()
	db.mu.RLock()
	gen := db.gen
	if gen == db.saved {
		db.mu.RUnlock()
		return nil
	}
	raw, err := db.snapshotLocked()
	db.mu.RUnlock()
	if err != nil {
		return fmt.Errorf("sync memdynamo: %w", err)
	}
	if err := writeAtomic(db.path, raw); err != nil {
		return fmt.Errorf("sync memdynamo: %w", err)
	}
	db.mu.Lock()
	db.saved = gen
	db.mu.Unlock()
	return nil
}

// Close syncs the snapshot (when the database has a file). The database
// stays usable.
func (db *DB) Close() error { return db.Sync() }

func (db *DB) snapshotLocked() ([]byte, error) {
	s := snapshot{Format: snapshotFormat, Version: SnapshotVersion, SavedAt: db.now().UTC().Truncate(time.Second), Tables: []snapshotTable{}}
	names := make([]string, 0, len(db.tables))
	for n := range db.tables {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		t := db.tables[n]
		def := &dynamodb.CreateTableInput{
			TableName: aws.String(t.name), KeySchema: schemaOf(t.hash, t.rng),
			AttributeDefinitions: cloneAttrDefs(t.attrDefs), BillingMode: t.billing,
		}
		for _, g := range t.gsis {
			p := &types.Projection{ProjectionType: g.proj}
			if len(g.include) > 0 {
				p.NonKeyAttributes = g.include
			}
			def.GlobalSecondaryIndexes = append(def.GlobalSecondaryIndexes, types.GlobalSecondaryIndex{
				IndexName: aws.String(g.name), KeySchema: schemaOf(g.hash, g.rng), Projection: p,
			})
		}
		st := snapshotTable{Definition: encode(nil, reflect.ValueOf(def)), CreatedAt: t.created, Items: make([]json.RawMessage, 0, t.tree.Len())}
		if t.ttlAttr != "" {
			st.TTL = &snapshotTTL{Attribute: t.ttlAttr, Enabled: t.ttlOn}
		}
		t.tree.Scan(func(e *entry) bool {
			st.Items = append(st.Items, appendItem(nil, e.it))
			return true
		})
		s.Tables = append(s.Tables, st)
	}
	return json.Marshal(s)
}

func writeAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // after a successful rename this is a no-op
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}
