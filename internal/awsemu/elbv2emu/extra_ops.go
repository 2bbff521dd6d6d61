package elbv2emu

import (
	"net/http"
	"sort"
	"strconv"
)

// Tags, rule priorities and target group health-check settings.

const maxTags = 50

type tagDescription struct {
	ResourceArn string
	Tags        []keyValue `xml:"Tags>member"`
}

type tagDescriptionsResult struct {
	TagDescriptions []tagDescription `xml:"TagDescriptions>member"`
}

// resourceExistsLocked reports whether an ARN names a load balancer, target
// group, listener or rule.
func (e *ELB) resourceExistsLocked(arn string) *apiError {
	if _, ok := e.lbByARN[arn]; ok {
		return nil
	}
	if _, ok := e.tgByARN[arn]; ok {
		return nil
	}
	if _, ok := e.lsByARN[arn]; ok {
		return nil
	}
	if _, _, ok := e.findRuleLocked(arn); ok {
		return nil
	}
	switch {
	case containsSeg(arn, ":targetgroup/"):
		return errTGNotFound()
	case containsSeg(arn, ":listener-rule/"):
		return errRuleNotFound()
	case containsSeg(arn, ":listener/"):
		return errListenerNotFound()
	default:
		return errLBNotFound()
	}
}

func containsSeg(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

func parseTags(f *formNode) (map[string]string, *apiError) {
	out := map[string]string{}
	for _, m := range f.members("Tags") {
		k := m.str("Key")
		if k == "" || len(k) > 128 || len(m.str("Value")) > 256 {
			return nil, validationf("Tag keys must have 1 to 128 characters and values at most 256")
		}
		if _, dup := out[k]; dup {
			return nil, errf(http.StatusBadRequest, "DuplicateTagKeys", "Tag key '%s' is specified more than once", k)
		}
		out[k] = m.str("Value")
	}
	return out, nil
}

// tagOnCreateLocked stores the Tags of a Create* request for a new resource.
func (e *ELB) tagOnCreateLocked(arn string, tags map[string]string) {
	if len(tags) == 0 {
		return
	}
	if e.tags == nil {
		e.tags = map[string]map[string]string{}
	}
	e.tags[arn] = tags
}

func (e *ELB) addTags(f *formNode) (any, *apiError) {
	arns := uniq(f.strs("ResourceArns"))
	if len(arns) == 0 {
		return nil, validationf("At least one resource ARN must be specified")
	}
	tags, aerr := parseTags(f)
	if aerr != nil {
		return nil, aerr
	}
	if len(tags) == 0 {
		return nil, validationf("At least one tag must be specified")
	}
	for _, a := range arns {
		if aerr := e.resourceExistsLocked(a); aerr != nil {
			return nil, aerr
		}
		n := len(tags)
		for k := range e.tags[a] {
			if _, ok := tags[k]; !ok {
				n++
			}
		}
		if n > maxTags {
			return nil, errf(http.StatusBadRequest, "TooManyTags", "A resource can have at most %d tags", maxTags)
		}
	}
	if e.tags == nil {
		e.tags = map[string]map[string]string{}
	}
	for _, a := range arns {
		next := map[string]string{}
		for k, v := range e.tags[a] {
			next[k] = v
		}
		for k, v := range tags {
			next[k] = v
		}
		e.tags[a] = next
	}
	return nil, nil
}

func (e *ELB) removeTags(f *formNode) (any, *apiError) {
	arns := uniq(f.strs("ResourceArns"))
	keys := f.strs("TagKeys")
	if len(arns) == 0 || len(keys) == 0 {
		return nil, validationf("ResourceArns and TagKeys must be specified")
	}
	for _, a := range arns {
		if aerr := e.resourceExistsLocked(a); aerr != nil {
			return nil, aerr
		}
	}
	for _, a := range arns {
		next := map[string]string{}
		for k, v := range e.tags[a] {
			next[k] = v
		}
		for _, k := range keys {
			delete(next, k)
		}
		e.tags[a] = next
	}
	return nil, nil
}

func (e *ELB) describeTags(f *formNode) (any, *apiError) {
	arns := uniq(f.strs("ResourceArns"))
	if len(arns) == 0 || len(arns) > 20 {
		return nil, validationf("Between 1 and 20 resource ARNs must be specified")
	}
	out := tagDescriptionsResult{}
	for _, a := range arns {
		if aerr := e.resourceExistsLocked(a); aerr != nil {
			return nil, aerr
		}
		td := tagDescription{ResourceArn: a, Tags: []keyValue{}}
		keys := make([]string, 0, len(e.tags[a]))
		for k := range e.tags[a] {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			td.Tags = append(td.Tags, keyValue{Key: k, Value: e.tags[a][k]})
		}
		out.TagDescriptions = append(out.TagDescriptions, td)
	}
	return out, nil
}

// setRulePriorities changes the priorities of several rules at once; the
// result must leave no two rules of a listener on the same priority.
func (e *ELB) setRulePriorities(f *formNode) (any, *apiError) {
	ms := f.members("RulePriorities")
	if len(ms) == 0 {
		return nil, validationf("At least one rule priority must be specified")
	}
	next := map[string]int{}
	for _, m := range ms {
		arn := m.str("RuleArn")
		p, ok, aerr := m.int32Opt("Priority")
		if aerr != nil {
			return nil, aerr
		}
		if !ok || p < 1 || p > 50000 {
			return nil, validationf("A rule priority between 1 and 50000 must be specified")
		}
		if _, isRule := e.rules[arn]; !isRule {
			if _, def, found := e.findRuleLocked(arn); found && def != nil {
				return nil, errf(http.StatusBadRequest, "OperationNotPermitted", "The priority of the default rule cannot be changed")
			}
			return nil, errRuleNotFound()
		}
		next[arn] = int(p)
	}
	used := map[string]map[int]string{}
	for arn, r := range e.rules {
		p := r.prio
		if np, ok := next[arn]; ok {
			p = np
		}
		if used[r.listenerARN] == nil {
			used[r.listenerARN] = map[int]string{}
		}
		if other, clash := used[r.listenerARN][p]; clash && other != arn {
			return nil, errf(http.StatusBadRequest, "PriorityInUse", "Priority '%d' is currently in use", p)
		}
		used[r.listenerARN][p] = arn
	}
	out := rulesResult{}
	for _, m := range ms {
		arn := m.str("RuleArn")
		r := e.rules[arn]
		cp := *r
		cp.prio = next[arn]
		cp.Priority = strconv.Itoa(cp.prio)
		e.rules[arn] = &cp
		out.Rules = append(out.Rules, cp)
	}
	return out, nil
}

// modifyTargetGroup changes a target group's health-check settings.
func (e *ELB) modifyTargetGroup(f *formNode) (any, *apiError) {
	tg, ok := e.tgByARN[f.str("TargetGroupArn")]
	if !ok {
		return nil, errTGNotFound()
	}
	next := *tg
	var aerr *apiError
	if next.HealthCheckIntervalSeconds, aerr = rangeCheck(f, "HealthCheckIntervalSeconds", 5, 300, tg.HealthCheckIntervalSeconds); aerr != nil {
		return nil, aerr
	}
	if next.HealthCheckTimeoutSeconds, aerr = rangeCheck(f, "HealthCheckTimeoutSeconds", 2, 120, tg.HealthCheckTimeoutSeconds); aerr != nil {
		return nil, aerr
	}
	if next.HealthyThresholdCount, aerr = rangeCheck(f, "HealthyThresholdCount", 2, 10, tg.HealthyThresholdCount); aerr != nil {
		return nil, aerr
	}
	if next.UnhealthyThresholdCount, aerr = rangeCheck(f, "UnhealthyThresholdCount", 2, 10, tg.UnhealthyThresholdCount); aerr != nil {
		return nil, aerr
	}
	if next.HealthCheckTimeoutSeconds >= next.HealthCheckIntervalSeconds {
		return nil, validationf("Health check interval must be greater than the timeout")
	}
	if v := f.str("HealthCheckPath"); v != "" {
		next.HealthCheckPath = v
	}
	if v := f.str("HealthCheckPort"); v != "" {
		next.HealthCheckPort = v
	}
	if v := f.str("HealthCheckProtocol"); v != "" {
		if !validProtocols[v] {
			return nil, validationf("Protocol '%s' is not valid", v)
		}
		next.HealthCheckProtocol = v
	}
	if en, ok, aerr := f.boolOpt("HealthCheckEnabled"); aerr != nil {
		return nil, aerr
	} else if ok {
		next.HealthCheckEnabled = en
	}
	if code := f.child("Matcher").str("HttpCode"); code != "" {
		next.Matcher = &matcher{HttpCode: code}
	}
	*tg = next
	return targetGroupsResult{TargetGroups: []targetGroup{next}}, nil
}
