package route53emu

import (
	"encoding/json"
	"fmt"
	"sort"
	"time"
)

// StateVersion is the version of the format SaveState writes and LoadState
// reads. Bump it on any change LoadState could misread.
const StateVersion = 1

type persisted struct {
	Version int             `json:"version"`
	Seq     uint64          `json:"seq"`
	Zones   []persistedZone `json:"zones"` // in creation order
	Changes []persistedChg  `json:"changes"`
}

type persistedZone struct {
	ID          string      `json:"id"`
	Name        string      `json:"name"`
	CallerRef   string      `json:"callerReference"`
	Comment     string      `json:"comment,omitempty"`
	Private     bool        `json:"private,omitempty"`
	NameServers []string    `json:"nameServers"`
	Records     []recordSet `json:"records"`
}

type persistedChg struct {
	ID        string    `json:"id"`
	Submitted time.Time `json:"submittedAt"`
	Comment   string    `json:"comment,omitempty"`
}

// SaveState returns the hosted zones, their record sets and the change IDs
// as versioned JSON, for LoadState on a later run.
func (r *Route53) SaveState() ([]byte, error) {
	r.mu.Lock()
	p := persisted{Version: StateVersion, Seq: r.seq, Zones: []persistedZone{}, Changes: []persistedChg{}}
	for _, id := range r.order {
		z, ok := r.zones[id]
		if !ok {
			continue
		}
		pz := persistedZone{ID: z.id, Name: z.name, CallerRef: z.callerRef, Comment: z.comment, Private: z.private,
			NameServers: append([]string{}, z.nameServers...), Records: make([]recordSet, 0, len(z.records))}
		for _, rs := range z.records {
			pz.Records = append(pz.Records, *rs)
		}
		sort.Slice(pz.Records, func(i, j int) bool {
			a, b := pz.Records[i], pz.Records[j]
			if a.Name != b.Name {
				return a.Name < b.Name
			}
			if a.Type != b.Type {
				return a.Type < b.Type
			}
			return a.SetIdentifier < b.SetIdentifier
		})
		p.Zones = append(p.Zones, pz)
	}
	for _, c := range r.changes {
		p.Changes = append(p.Changes, persistedChg{ID: c.id, Submitted: c.submitted, Comment: c.comment})
	}
	sort.Slice(p.Changes, func(i, j int) bool { return p.Changes[i].ID < p.Changes[j].ID })
	b, err := json.Marshal(p) // under the lock: the copies share slices with the live records
	r.mu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("save route 53 state: %w", err)
	}
	return b, nil
}

// LoadState replaces the zones, records and changes with those saved by
// SaveState. On error the service is left unchanged.
func (r *Route53) LoadState(b []byte) error {
	var p persisted
	if err := json.Unmarshal(b, &p); err != nil {
		return fmt.Errorf("load route 53 state: %w", err)
	}
	if p.Version != StateVersion {
		return fmt.Errorf("load route 53 state: format version %d, this build reads %d", p.Version, StateVersion)
	}
	zones := make(map[string]*zone, len(p.Zones))
	order := make([]string, 0, len(p.Zones))
	for _, pz := range p.Zones {
		if pz.ID == "" || zones[pz.ID] != nil {
			return fmt.Errorf("load route 53 state: zone id %q is empty or repeated", pz.ID)
		}
		z := &zone{id: pz.ID, name: pz.Name, callerRef: pz.CallerRef, comment: pz.Comment, private: pz.Private,
			nameServers: pz.NameServers, records: make(map[recordKey]*recordSet, len(pz.Records))}
		for i := range pz.Records {
			rs := pz.Records[i]
			z.records[recordKey{name: rs.Name, typ: rs.Type, setID: rs.SetIdentifier}] = &rs
		}
		zones[pz.ID] = z
		order = append(order, pz.ID)
	}
	changes := make(map[string]*change, len(p.Changes))
	for _, c := range p.Changes {
		changes[c.ID] = &change{id: c.ID, submitted: c.Submitted, comment: c.Comment}
	}
	r.mu.Lock()
	r.seq, r.zones, r.order, r.changes = p.Seq, zones, order, changes
	r.mu.Unlock()
	return nil
}
