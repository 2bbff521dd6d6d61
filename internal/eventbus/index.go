package eventbus

import (
	"sort"
)

// Matcher matches one event against many patterns at once. The event is read
// once, recording only the fields some pattern names, and each pattern is
// evaluated only when its most selective exact-value field (its anchor)
// agrees with the event; patterns without such a field are always evaluated.
// A Matcher is immutable and safe for concurrent use.
type Matcher struct {
	patterns []*Pattern
	remaps   [][]int
	trie     *pathNode
	npaths   int
	// anchors maps a path id to value -> pattern indices anchored there.
	anchors map[int]map[string][]int
	// anchorPaths lists the keys of anchors, for a stable iteration order.
	anchorPaths []int
	// always lists the patterns without an anchor.
	always []int
}

// NewMatcher builds a Matcher; Matches reports patterns by their index in
// patterns.
func NewMatcher(patterns []*Pattern) *Matcher {
	m := &Matcher{
		patterns: patterns,
		trie:     newPathNode(),
		anchors:  make(map[int]map[string][]int),
	}
	m.remaps = make([][]int, len(patterns))
	for i, p := range patterns {
		remap := make([]int, len(p.paths))
		for local, path := range p.paths {
			remap[local] = m.trie.insert(path, &m.npaths)
		}
		m.remaps[i] = remap
	}

	// Count how many patterns could anchor on each (path, value), then give
	// every pattern the candidate field whose values are shared least.
	type key struct {
		path int
		val  string
	}
	counts := make(map[key]int)
	candidates := make([][]int, len(patterns)) // field indices in root
	for i, p := range patterns {
		for fi, f := range p.root.fields {
			if !allExactStrings(f.ms) {
				continue
			}
			candidates[i] = append(candidates[i], fi)
			for _, mt := range f.ms {
				counts[key{m.remaps[i][f.path], mt.s}]++
			}
		}
	}
	for i, p := range patterns {
		best, bestCost := -1, 0
		for _, fi := range candidates[i] {
			f := p.root.fields[fi]
			cost := 0
			for _, mt := range f.ms {
				cost += counts[key{m.remaps[i][f.path], mt.s}]
			}
			if best < 0 || cost < bestCost {
				best, bestCost = fi, cost
			}
		}
		if best < 0 {
			m.always = append(m.always, i)
			continue
		}
		f := p.root.fields[best]
		gid := m.remaps[i][f.path]
		byVal := m.anchors[gid]
		if byVal == nil {
			byVal = make(map[string][]int)
			m.anchors[gid] = byVal
			m.anchorPaths = append(m.anchorPaths, gid)
		}
		seen := make(map[string]bool, len(f.ms))
		for _, mt := range f.ms {
			if !seen[mt.s] {
				seen[mt.s] = true
				byVal[mt.s] = append(byVal[mt.s], i)
			}
		}
	}
	sort.Ints(m.anchorPaths)
	return m
}

func allExactStrings(ms []matcher) bool {
	for _, m := range ms {
		if m.kind != mExactString {
			return false
		}
	}
	return len(ms) > 0
}

// Len is the number of patterns.
func (m *Matcher) Len() int { return len(m.patterns) }

// Matches appends to dst the indices of the patterns that match the event, in
// ascending order. It returns an error only when the event is not a JSON
// object.
func (m *Matcher) Matches(event []byte, dst []int) ([]int, error) {
	st := getState(m.npaths)
	defer putState(st)
	if err := st.scan(event, m.trie); err != nil {
		return dst, errBadJSON
	}
	if len(st.seen) < len(m.patterns) {
		st.seen = make([]uint32, len(m.patterns))
		st.gen = 0
	}
	st.gen++
	if st.gen == 0 { // wrapped: clear stamps
		clear(st.seen)
		st.gen = 1
	}
	vals := st.sc.vals
	start := len(dst)
	for _, gid := range m.anchorPaths {
		byVal := m.anchors[gid]
		for _, v := range vals[gid] {
			if v.kind != kindString {
				continue
			}
			for _, i := range byVal[v.s] {
				if st.seen[i] == st.gen {
					continue
				}
				st.seen[i] = st.gen
				if m.patterns[i].matches(st, m.remaps[i]) {
					dst = append(dst, i)
				}
			}
		}
	}
	for _, i := range m.always {
		if m.patterns[i].matches(st, m.remaps[i]) {
			dst = append(dst, i)
		}
	}
	sort.Ints(dst[start:])
	return dst, nil
}
