package cwemu

import (
	"encoding/json"
	"fmt"
	"sort"
)

// StateVersion is the version of the format SaveState writes and LoadState
// reads. Bump it on any change LoadState could misread.
const StateVersion = 1

// persisted is the saved form of the service: every alarm, whole.
type persisted struct {
	Version int           `json:"version"`
	Alarms  []metricAlarm `json:"alarms"`
}

// SaveState returns every alarm (configuration and current state) as
// versioned JSON, for LoadState on a later run.
func (c *CloudWatch) SaveState() ([]byte, error) {
	c.mu.Lock()
	p := persisted{Version: StateVersion, Alarms: make([]metricAlarm, 0, len(c.alarms))}
	for _, a := range c.alarms {
		p.Alarms = append(p.Alarms, *a)
	}
	sort.Slice(p.Alarms, func(i, j int) bool { return p.Alarms[i].AlarmName < p.Alarms[j].AlarmName })
	b, err := json.Marshal(p) // under the lock: the copies share slices with the live alarms
	c.mu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("save cloudwatch state: %w", err)
	}
	return b, nil
}

// LoadState replaces the alarms with those saved by SaveState. Alarm state
// changes are not announced (OnAlarmChange is not called). On error the
// service is left unchanged.
func (c *CloudWatch) LoadState(b []byte) error {
	var p persisted
	if err := json.Unmarshal(b, &p); err != nil {
		return fmt.Errorf("load cloudwatch state: %w", err)
	}
	if p.Version != StateVersion {
		return fmt.Errorf("load cloudwatch state: format version %d, this build reads %d", p.Version, StateVersion)
	}
	alarms := make(map[string]*metricAlarm, len(p.Alarms))
	for i := range p.Alarms {
		a := p.Alarms[i]
		if a.AlarmName == "" {
			return fmt.Errorf("load cloudwatch state: alarm %d has no name", i)
		}
		alarms[a.AlarmName] = &a
	}
	c.mu.Lock()
	c.alarms = alarms
	c.mu.Unlock()
	return nil
}
