package trigger

import (
	"fmt"
	"regexp"
	"sync"

	"github.com/ecsflow/ecsflow/internal/model"
)

// maxCachedFilters bounds the compiled-filter cache; past it the cache is
// emptied (filters are few and recompiling is cheap).
const maxCachedFilters = 4096

// Matcher applies triggers' tag filters, compiling each distinct filter
// once. It is safe for concurrent use.
type Matcher struct {
	mu    sync.RWMutex
	cache map[string]*regexp.Regexp
}

// NewMatcher returns an empty matcher.
func NewMatcher() *Matcher { return &Matcher{cache: map[string]*regexp.Regexp{}} }

func (m *Matcher) compile(filter string) (*regexp.Regexp, error) {
	m.mu.RLock()
	re, ok := m.cache[filter]
	m.mu.RUnlock()
	if ok {
		return re, nil
	}
	re, err := model.CompileTagFilter(filter)
	if err != nil {
		return nil, fmt.Errorf("compile tag filter %q: %w", filter, err)
	}
	m.mu.Lock()
	if len(m.cache) >= maxCachedFilters {
		clear(m.cache)
	}
	m.cache[filter] = re
	m.mu.Unlock()
	return re, nil
}

// Matches reports whether a push of tag (""  for a digest-only push) fires
// t. A disabled or scheduled trigger never fires on a push. An empty filter fires on every push;
// a filter is a regular expression anchored on the whole tag and never
// fires on a digest-only push. An invalid stored filter is an error.
func (m *Matcher) Matches(t *model.Trigger, tag string) (bool, error) {
	if t == nil || t.Disabled || t.Schedule != "" {
		// A scheduled trigger fires on its schedule (Tick), not on pushes.
		return false, nil
	}
	if t.TagFilter == "" {
		return true, nil
	}
	if tag == "" {
		return false, nil
	}
	re, err := m.compile(t.TagFilter)
	if err != nil {
		return false, fmt.Errorf("trigger %s: %w", t.ID, err)
	}
	return re.MatchString(tag), nil
}

// Match returns the triggers a push of tag fires, in the given order, and
// the triggers whose filter does not compile (they are skipped; the model
// refuses such filters, so this means a stored item predates a rule).
func (m *Matcher) Match(triggers []*model.Trigger, tag string) (fired []*model.Trigger, broken []error) {
	for _, t := range triggers {
		ok, err := m.Matches(t, tag)
		if err != nil {
			broken = append(broken, err)
			continue
		}
		if ok {
			fired = append(fired, t)
		}
	}
	return fired, broken
}
