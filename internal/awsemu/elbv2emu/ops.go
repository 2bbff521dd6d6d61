package elbv2emu

import (
	"fmt"
	"hash/fnv"
	"net/http"
	"net/netip"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

func operations() map[string]opFunc {
	return map[string]opFunc{
		"CreateLoadBalancer":            (*ELB).createLoadBalancer,
		"DescribeLoadBalancers":         (*ELB).describeLoadBalancers,
		"DeleteLoadBalancer":            (*ELB).deleteLoadBalancer,
		"CreateTargetGroup":             (*ELB).createTargetGroup,
		"DescribeTargetGroups":          (*ELB).describeTargetGroups,
		"DeleteTargetGroup":             (*ELB).deleteTargetGroup,
		"ModifyTargetGroupAttributes":   (*ELB).modifyTargetGroupAttributes,
		"DescribeTargetGroupAttributes": (*ELB).describeTargetGroupAttributes,
		"CreateListener":                (*ELB).createListener,
		"DescribeListeners":             (*ELB).describeListeners,
		"ModifyListener":                (*ELB).modifyListener,
		"DeleteListener":                (*ELB).deleteListener,
		"CreateRule":                    (*ELB).createRule,
		"DescribeRules":                 (*ELB).describeRules,
		"ModifyRule":                    (*ELB).modifyRule,
		"DeleteRule":                    (*ELB).deleteRule,
		"RegisterTargets":               (*ELB).registerTargets,
		"DeregisterTargets":             (*ELB).deregisterTargets,
		"DescribeTargetHealth":          (*ELB).describeTargetHealth,
		"AddTags":                       (*ELB).addTags,
		"RemoveTags":                    (*ELB).removeTags,
		"DescribeTags":                  (*ELB).describeTags,
		"SetRulePriorities":             (*ELB).setRulePriorities,
		"ModifyTargetGroup":             (*ELB).modifyTargetGroup,
	}
}

var nameRE = regexp.MustCompile(`^[a-zA-Z0-9]([a-zA-Z0-9-]{0,30}[a-zA-Z0-9])?$`)

func errLBNotFound() *apiError {
	return errf(http.StatusBadRequest, "LoadBalancerNotFound", "One or more load balancers not found")
}

func errTGNotFound() *apiError {
	return errf(http.StatusBadRequest, "TargetGroupNotFound", "One or more target groups not found")
}

func errListenerNotFound() *apiError {
	return errf(http.StatusBadRequest, "ListenerNotFound", "One or more listeners not found")
}

func errRuleNotFound() *apiError {
	return errf(http.StatusBadRequest, "RuleNotFound", "One or more rules not found")
}

// page slices items by an offset Marker and a PageSize.
func page[T any](items []T, f *formNode) ([]T, string, *apiError) {
	size := 400
	if v, ok, aerr := f.int32Opt("PageSize"); aerr != nil {
		return nil, "", aerr
	} else if ok {
		if v < 1 || v > 400 {
			return nil, "", validationf("PageSize must be between 1 and 400")
		}
		size = int(v)
	}
	start := 0
	if m := f.str("Marker"); m != "" {
		n, err := strconv.Atoi(m)
		if err != nil || n < 0 || n > len(items) {
			return nil, "", validationf("Invalid Marker %q", m)
		}
		start = n
	}
	end := start + size
	if end >= len(items) {
		return items[start:], "", nil
	}
	return items[start:end], strconv.Itoa(end), nil
}

func uniq(ss []string) []string {
	seen := map[string]bool{}
	out := ss[:0:0]
	for _, s := range ss {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// ---- load balancers -------------------------------------------------------

type loadBalancersResult struct {
	LoadBalancers []loadBalancer `xml:"LoadBalancers>member"`
	NextMarker    string         `xml:",omitempty"`
}

func (e *ELB) vpcID() string {
	h := fnv.New64a()
	h.Write([]byte(e.accountID + e.region))
	return fmt.Sprintf("vpc-%017x", h.Sum64())[:21]
}

func (e *ELB) createLoadBalancer(f *formNode) (any, *apiError) {
	tags, aerr := parseTags(f)
	if aerr != nil {
		return nil, aerr
	}
	name := f.str("Name")
	if !nameRE.MatchString(name) || strings.HasPrefix(strings.ToLower(name), "internal-") {
		return nil, validationf("Load balancer name '%s' is not valid: up to 32 alphanumeric characters or hyphens, not beginning or ending with a hyphen", name)
	}
	typ := f.str("Type")
	if typ == "" {
		typ = "application"
	}
	if typ != "application" && typ != "network" && typ != "gateway" {
		return nil, validationf("Load balancer type '%s' is not valid", typ)
	}
	scheme := f.str("Scheme")
	if scheme == "" {
		scheme = "internet-facing"
	}
	if scheme != "internet-facing" && scheme != "internal" {
		return nil, errf(http.StatusBadRequest, "InvalidScheme", "Scheme '%s' is not valid", scheme)
	}
	ipType := f.str("IpAddressType")
	if ipType == "" {
		ipType = "ipv4"
	}
	subnets := f.strs("Subnets")
	for _, m := range f.members("SubnetMappings") {
		subnets = append(subnets, m.str("SubnetId"))
	}
	for _, lb := range e.lbs {
		if lb.LoadBalancerName == name {
			if lb.Type == typ && lb.Scheme == scheme {
				return loadBalancersResult{LoadBalancers: []loadBalancer{*lb}}, nil
			}
			return nil, errf(http.StatusBadRequest, "DuplicateLoadBalancerName", "A load balancer with the same name '%s' exists, but with different settings", name)
		}
	}
	id := e.newID("loadbalancer", name)
	var azs []availabilityZone
	for i, s := range subnets {
		azs = append(azs, availabilityZone{ZoneName: e.region + string(rune('a'+i%6)), SubnetId: s})
	}
	dnsPrefix := ""
	if scheme == "internal" {
		dnsPrefix = "internal-"
	}
	zone := "Z35SXDOTRQ7X7K"
	if typ == "network" {
		zone = "Z26RNL4JYFTOTI"
	}
	h := fnv.New32a()
	h.Write([]byte(id))
	lb := &loadBalancer{
		LoadBalancerArn:       e.arn("loadbalancer/" + lbTypePrefix(typ) + "/" + name + "/" + id),
		DNSName:               fmt.Sprintf("%s%s-%d.%s.elb.amazonaws.com", dnsPrefix, name, h.Sum32(), e.region),
		CanonicalHostedZoneId: zone,
		CreatedTime:           timestamp(e.clock.Now()),
		LoadBalancerName:      name,
		Scheme:                scheme,
		VpcId:                 e.vpcID(),
		State:                 lbState{Code: "active"},
		Type:                  typ,
		AvailabilityZones:     azs,
		SecurityGroups:        f.strs("SecurityGroups"),
		IpAddressType:         ipType,
		id:                    id,
	}
	e.lbs = append(e.lbs, lb)
	e.lbByARN[lb.LoadBalancerArn] = lb
	e.tagOnCreateLocked(lb.LoadBalancerArn, tags)
	return loadBalancersResult{LoadBalancers: []loadBalancer{*lb}}, nil
}

func (e *ELB) describeLoadBalancers(f *formNode) (any, *apiError) {
	arns := uniq(f.strs("LoadBalancerArns"))
	names := uniq(f.strs("Names"))
	var out []loadBalancer
	switch {
	case len(arns) > 0 && len(names) > 0:
		return nil, validationf("Load balancer names and load balancer ARNs cannot be specified at the same time")
	case len(arns) > 0:
		for _, a := range arns {
			lb, ok := e.lbByARN[a]
			if !ok {
				return nil, errLBNotFound()
			}
			out = append(out, *lb)
		}
	case len(names) > 0:
		for _, n := range names {
			found := false
			for _, lb := range e.lbs {
				if lb.LoadBalancerName == n {
					out = append(out, *lb)
					found = true
				}
			}
			if !found {
				return nil, errf(http.StatusBadRequest, "LoadBalancerNotFound", "Load balancers '[%s]' not found", n)
			}
		}
	default:
		for _, lb := range e.lbs {
			out = append(out, *lb)
		}
	}
	pg, next, aerr := page(out, f)
	if aerr != nil {
		return nil, aerr
	}
	return loadBalancersResult{LoadBalancers: pg, NextMarker: next}, nil
}

func (e *ELB) deleteLoadBalancer(f *formNode) (any, *apiError) {
	lbARN := f.str("LoadBalancerArn")
	lb, ok := e.lbByARN[lbARN]
	if !ok {
		// AWS treats deleting a missing load balancer as success.
		return nil, nil
	}
	var keep []*listener
	for _, ls := range e.listeners {
		if ls.LoadBalancerArn == lbARN {
			e.removeListenerLocked(ls)
			continue
		}
		keep = append(keep, ls)
	}
	e.listeners = keep
	delete(e.lbByARN, lbARN)
	delete(e.tags, lbARN)
	var lbs []*loadBalancer
	for _, x := range e.lbs {
		if x != lb {
			lbs = append(lbs, x)
		}
	}
	e.lbs = lbs
	e.recomputeAssociationsLocked()
	return nil, nil
}

// ---- target groups ----------------------------------------------------------

type targetGroupsResult struct {
	TargetGroups []targetGroup `xml:"TargetGroups>member"`
	NextMarker   string        `xml:",omitempty"`
}

const attrDeregistrationDelay = "deregistration_delay.timeout_seconds"

func defaultTGAttributes() map[string]string {
	return map[string]string{
		attrDeregistrationDelay:                 "300",
		"stickiness.enabled":                    "false",
		"stickiness.type":                       "lb_cookie",
		"stickiness.lb_cookie.duration_seconds": "86400",
		"slow_start.duration_seconds":           "0",
		"load_balancing.algorithm.type":         "round_robin",
	}
}

var validProtocols = map[string]bool{"HTTP": true, "HTTPS": true, "TCP": true, "TLS": true, "UDP": true, "TCP_UDP": true, "GENEVE": true}

func rangeCheck(f *formNode, name string, lo, hi, def int32) (int32, *apiError) {
	v, ok, aerr := f.int32Opt(name)
	if aerr != nil {
		return 0, aerr
	}
	if !ok {
		return def, nil
	}
	if v < lo || v > hi {
		return 0, validationf("%s must be between %d and %d", name, lo, hi)
	}
	return v, nil
}

func (e *ELB) createTargetGroup(f *formNode) (any, *apiError) {
	tags, aerr := parseTags(f)
	if aerr != nil {
		return nil, aerr
	}
	name := f.str("Name")
	if !nameRE.MatchString(name) {
		return nil, validationf("Target group name '%s' is not valid: up to 32 alphanumeric characters or hyphens, not beginning or ending with a hyphen", name)
	}
	tt := f.str("TargetType")
	if tt == "" {
		tt = "instance"
	}
	if tt != "instance" && tt != "ip" && tt != "lambda" && tt != "alb" {
		return nil, validationf("Target type '%s' is not valid", tt)
	}
	proto := f.str("Protocol")
	port, hasPort, aerr := f.int32Opt("Port")
	if aerr != nil {
		return nil, aerr
	}
	vpc := f.str("VpcId")
	if tt != "lambda" {
		if proto == "" {
			return nil, validationf("A protocol must be specified")
		}
		if !validProtocols[proto] {
			return nil, validationf("Protocol '%s' is not valid", proto)
		}
		if !hasPort {
			return nil, validationf("A port must be specified")
		}
		if port < 1 || port > 65535 {
			return nil, validationf("Port must be between 1 and 65535")
		}
		if vpc == "" {
			return nil, validationf("A VPC ID must be specified")
		}
	}
	httpish := proto == "HTTP" || proto == "HTTPS"
	hcProto := f.str("HealthCheckProtocol")
	if hcProto == "" {
		if httpish {
			hcProto = proto
		} else if tt != "lambda" {
			hcProto = "TCP"
		}
	}
	hcPort := f.str("HealthCheckPort")
	if hcPort == "" && tt != "lambda" {
		hcPort = "traffic-port"
	}
	interval, aerr := rangeCheck(f, "HealthCheckIntervalSeconds", 5, 300, 30)
	if aerr != nil {
		return nil, aerr
	}
	timeout, aerr := rangeCheck(f, "HealthCheckTimeoutSeconds", 2, 120, 5)
	if aerr != nil {
		return nil, aerr
	}
	if timeout >= interval {
		return nil, validationf("Health check interval must be greater than the timeout")
	}
	healthy, aerr := rangeCheck(f, "HealthyThresholdCount", 2, 10, 5)
	if aerr != nil {
		return nil, aerr
	}
	unhealthy, aerr := rangeCheck(f, "UnhealthyThresholdCount", 2, 10, 2)
	if aerr != nil {
		return nil, aerr
	}
	hcEnabled, ok, aerr := f.boolOpt("HealthCheckEnabled")
	if aerr != nil {
		return nil, aerr
	}
	if !ok {
		hcEnabled = tt != "lambda"
	}
	path := f.str("HealthCheckPath")
	var m *matcher
	if httpish || hcProto == "HTTP" || hcProto == "HTTPS" {
		if path == "" {
			path = "/"
		}
		code := f.child("Matcher").str("HttpCode")
		if code == "" {
			code = "200"
		}
		m = &matcher{HttpCode: code}
	}
	protoVersion := ""
	if httpish {
		protoVersion = f.str("ProtocolVersion")
		if protoVersion == "" {
			protoVersion = "HTTP1"
		}
	}
	ipType := f.str("IpAddressType")
	if ipType == "" && tt != "lambda" {
		ipType = "ipv4"
	}
	for _, tg := range e.tgs {
		if tg.TargetGroupName == name {
			if tg.Protocol == proto && tg.Port == port && tg.VpcId == vpc && tg.TargetType == tt {
				return targetGroupsResult{TargetGroups: []targetGroup{*tg}}, nil
			}
			return nil, errf(http.StatusBadRequest, "DuplicateTargetGroupName", "A target group with the same name '%s' exists, but with different settings", name)
		}
	}
	id := e.newID("targetgroup", name)
	tg := &targetGroup{
		TargetGroupArn:             e.arn("targetgroup/" + name + "/" + id),
		TargetGroupName:            name,
		Protocol:                   proto,
		Port:                       port,
		VpcId:                      vpc,
		HealthCheckProtocol:        hcProto,
		HealthCheckPort:            hcPort,
		HealthCheckEnabled:         hcEnabled,
		HealthCheckIntervalSeconds: interval,
		HealthCheckTimeoutSeconds:  timeout,
		HealthyThresholdCount:      healthy,
		UnhealthyThresholdCount:    unhealthy,
		HealthCheckPath:            path,
		Matcher:                    m,
		TargetType:                 tt,
		ProtocolVersion:            protoVersion,
		IpAddressType:              ipType,
		attrs:                      defaultTGAttributes(),
		targets:                    map[targetKey]*target{},
	}
	e.tgs = append(e.tgs, tg)
	e.tgByARN[tg.TargetGroupArn] = tg
	e.tagOnCreateLocked(tg.TargetGroupArn, tags)
	return targetGroupsResult{TargetGroups: []targetGroup{*tg}}, nil
}

func (e *ELB) describeTargetGroups(f *formNode) (any, *apiError) {
	arns := uniq(f.strs("TargetGroupArns"))
	names := uniq(f.strs("Names"))
	lbARN := f.str("LoadBalancerArn")
	var out []targetGroup
	switch {
	case len(arns) > 0:
		for _, a := range arns {
			tg, ok := e.tgByARN[a]
			if !ok {
				return nil, errTGNotFound()
			}
			out = append(out, *tg)
		}
	case len(names) > 0:
		for _, n := range names {
			found := false
			for _, tg := range e.tgs {
				if tg.TargetGroupName == n {
					out = append(out, *tg)
					found = true
				}
			}
			if !found {
				return nil, errf(http.StatusBadRequest, "TargetGroupNotFound", "Target groups '[%s]' not found", n)
			}
		}
	case lbARN != "":
		if _, ok := e.lbByARN[lbARN]; !ok {
			return nil, errLBNotFound()
		}
		for _, tg := range e.tgs {
			for _, a := range tg.LoadBalancerArns {
				if a == lbARN {
					out = append(out, *tg)
					break
				}
			}
		}
	default:
		for _, tg := range e.tgs {
			out = append(out, *tg)
		}
	}
	pg, next, aerr := page(out, f)
	if aerr != nil {
		return nil, aerr
	}
	return targetGroupsResult{TargetGroups: pg, NextMarker: next}, nil
}

func (e *ELB) deleteTargetGroup(f *formNode) (any, *apiError) {
	arn := f.str("TargetGroupArn")
	tg, ok := e.tgByARN[arn]
	if !ok {
		return nil, nil
	}
	if len(tg.LoadBalancerArns) > 0 {
		return nil, errf(http.StatusBadRequest, "ResourceInUse", "Target group '%s' is currently in use by a listener or a rule", arn)
	}
	var run []func()
	for _, t := range tg.targets {
		if t.drain != nil && t.drain.Stop() {
			// The drain ends with the group: its waiters are released.
			run = append(run, t.dones...)
		}
	}
	e.runLater(run)
	delete(e.tgByARN, arn)
	delete(e.tags, arn)
	var keep []*targetGroup
	for _, x := range e.tgs {
		if x != tg {
			keep = append(keep, x)
		}
	}
	e.tgs = keep
	return nil, nil
}

type attributesResult struct {
	Attributes []keyValue `xml:"Attributes>member"`
}

func tgAttributes(tg *targetGroup) attributesResult {
	keys := make([]string, 0, len(tg.attrs))
	for k := range tg.attrs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := attributesResult{}
	for _, k := range keys {
		out.Attributes = append(out.Attributes, keyValue{Key: k, Value: tg.attrs[k]})
	}
	return out
}

func (e *ELB) describeTargetGroupAttributes(f *formNode) (any, *apiError) {
	tg, ok := e.tgByARN[f.str("TargetGroupArn")]
	if !ok {
		return nil, errTGNotFound()
	}
	return tgAttributes(tg), nil
}

func (e *ELB) modifyTargetGroupAttributes(f *formNode) (any, *apiError) {
	tg, ok := e.tgByARN[f.str("TargetGroupArn")]
	if !ok {
		return nil, errTGNotFound()
	}
	ms := f.members("Attributes")
	if len(ms) == 0 {
		return nil, validationf("At least one attribute must be specified")
	}
	next := map[string]string{}
	for k, v := range tg.attrs {
		next[k] = v
	}
	for _, m := range ms {
		k, v := m.str("Key"), m.str("Value")
		switch k {
		case attrDeregistrationDelay, "slow_start.duration_seconds", "stickiness.lb_cookie.duration_seconds":
			n, err := strconv.Atoi(v)
			hi := 3600
			if k == "stickiness.lb_cookie.duration_seconds" {
				hi = 604800
			}
			if err != nil || n < 0 || n > hi {
				return nil, validationf("'%s' must be an integer between 0 and %d, got '%s'", k, hi, v)
			}
		case "stickiness.enabled":
			if v != "true" && v != "false" {
				return nil, validationf("'%s' must be true or false", k)
			}
		case "stickiness.type", "load_balancing.algorithm.type":
			if v == "" {
				return nil, validationf("'%s' must not be empty", k)
			}
		default:
			return nil, validationf("Target group attribute key '%s' is not recognized", k)
		}
		next[k] = v
	}
	tg.attrs = next
	return tgAttributes(tg), nil
}

// ---- actions and conditions --------------------------------------------

func (e *ELB) parseActions(nodes []*formNode) ([]action, *apiError) {
	if len(nodes) == 0 {
		return nil, validationf("At least one action must be specified")
	}
	if len(nodes) > 5 {
		return nil, errf(http.StatusBadRequest, "TooManyActions", "A rule can have at most 5 actions")
	}
	out := make([]action, 0, len(nodes))
	for _, n := range nodes {
		a := action{Type: n.str("Type")}
		order, hasOrder, aerr := n.int32Opt("Order")
		if aerr != nil {
			return nil, aerr
		}
		if hasOrder {
			if order < 1 || order > 50000 {
				return nil, validationf("Action order must be between 1 and 50000")
			}
			a.Order = order
		}
		switch a.Type {
		case "forward":
			fc, aerr := e.parseForward(n)
			if aerr != nil {
				return nil, aerr
			}
			a.ForwardConfig = fc
			if len(fc.TargetGroups) == 1 {
				a.TargetGroupArn = fc.TargetGroups[0].TargetGroupArn
			}
		case "fixed-response":
			c := n.child("FixedResponseConfig")
			code := c.str("StatusCode")
			if len(code) != 3 || (code[0] != '2' && code[0] != '4' && code[0] != '5') {
				return nil, validationf("Fixed response status code '%s' is not valid", code)
			}
			a.FixedResponseConfig = &fixedResponseConfig{StatusCode: code, ContentType: c.str("ContentType"), MessageBody: c.str("MessageBody")}
		case "redirect":
			c := n.child("RedirectConfig")
			code := c.str("StatusCode")
			if code != "HTTP_301" && code != "HTTP_302" {
				return nil, validationf("Redirect status code '%s' is not valid", code)
			}
			rc := &redirectConfig{Protocol: c.str("Protocol"), Port: c.str("Port"), Host: c.str("Host"), Path: c.str("Path"), Query: c.str("Query"), StatusCode: code}
			if rc.Protocol == "" {
				rc.Protocol = "#{protocol}"
			}
			if rc.Port == "" {
				rc.Port = "#{port}"
			}
			if rc.Host == "" {
				rc.Host = "#{host}"
			}
			if rc.Path == "" {
				rc.Path = "/#{path}"
			}
			if !c.has("Query") {
				rc.Query = "#{query}"
			}
			a.RedirectConfig = rc
		case "":
			return nil, validationf("An action type must be specified")
		default:
			return nil, validationf("Action type '%s' is not supported by this emulator", a.Type)
		}
		out = append(out, a)
	}
	return out, nil
}

func (e *ELB) parseForward(n *formNode) (*forwardConfig, *apiError) {
	single := n.str("TargetGroupArn")
	fcNode := n.child("ForwardConfig")
	fc := &forwardConfig{TargetGroupStickinessConfig: &stickinessConfig{Enabled: false}}
	for _, m := range fcNode.members("TargetGroups") {
		arn := m.str("TargetGroupArn")
		w, ok, aerr := m.int32Opt("Weight")
		if aerr != nil {
			return nil, aerr
		}
		if !ok {
			w = 1
		}
		if w < 0 || w > 999 {
			return nil, validationf("Target group weight must be between 0 and 999")
		}
		fc.TargetGroups = append(fc.TargetGroups, targetGroupTuple{TargetGroupArn: arn, Weight: w})
	}
	if sc := fcNode.child("TargetGroupStickinessConfig"); sc != nil {
		en, _, aerr := sc.boolOpt("Enabled")
		if aerr != nil {
			return nil, aerr
		}
		d, _, aerr := sc.int32Opt("DurationSeconds")
		if aerr != nil {
			return nil, aerr
		}
		if en && (d < 1 || d > 604800) {
			return nil, validationf("Target group stickiness duration must be between 1 and 604800 seconds")
		}
		fc.TargetGroupStickinessConfig = &stickinessConfig{Enabled: en, DurationSeconds: d}
	}
	switch {
	case single != "" && len(fc.TargetGroups) == 0:
		fc.TargetGroups = []targetGroupTuple{{TargetGroupArn: single, Weight: 1}}
	case single != "" && (len(fc.TargetGroups) != 1 || fc.TargetGroups[0].TargetGroupArn != single):
		return nil, validationf("You cannot specify both a target group ARN and a forward config unless they refer to the same single target group")
	case single == "" && len(fc.TargetGroups) == 0:
		return nil, validationf("A target group ARN must be specified for a forward action")
	}
	if len(fc.TargetGroups) > 5 {
		return nil, errf(http.StatusBadRequest, "TooManyTargetGroups", "A forward action can have at most 5 target groups")
	}
	seen := map[string]bool{}
	for _, t := range fc.TargetGroups {
		if t.TargetGroupArn == "" {
			return nil, validationf("A target group ARN must be specified")
		}
		if seen[t.TargetGroupArn] {
			return nil, validationf("Target group '%s' is specified more than once", t.TargetGroupArn)
		}
		seen[t.TargetGroupArn] = true
		if _, ok := e.tgByARN[t.TargetGroupArn]; !ok {
			return nil, errf(http.StatusBadRequest, "TargetGroupNotFound", "Target groups '%s' not found", t.TargetGroupArn)
		}
	}
	return fc, nil
}

var conditionFields = map[string]bool{"host-header": true, "path-pattern": true, "http-header": true, "http-request-method": true, "query-string": true, "source-ip": true}

func parseConditions(nodes []*formNode) ([]condition, *apiError) {
	out := make([]condition, 0, len(nodes))
	for _, n := range nodes {
		c := condition{Field: n.str("Field"), Values: n.strs("Values")}
		if !conditionFields[c.Field] {
			return nil, validationf("Condition field '%s' is not valid", c.Field)
		}
		vc := func(name string) *valuesConfig {
			if cn := n.child(name); cn != nil {
				return &valuesConfig{Values: cn.strs("Values")}
			}
			if len(c.Values) > 0 {
				return &valuesConfig{Values: c.Values}
			}
			return nil
		}
		switch c.Field {
		case "host-header":
			c.HostHeaderConfig = vc("HostHeaderConfig")
		case "path-pattern":
			c.PathPatternConfig = vc("PathPatternConfig")
		case "http-request-method":
			c.HttpRequestMethodConfig = vc("HttpRequestMethodConfig")
		case "source-ip":
			c.SourceIpConfig = vc("SourceIpConfig")
		case "http-header":
			h := n.child("HttpHeaderConfig")
			if h == nil || h.str("HttpHeaderName") == "" {
				return nil, validationf("An HTTP header condition requires HttpHeaderConfig.HttpHeaderName")
			}
			c.HttpHeaderConfig = &httpHeaderConfig{HttpHeaderName: h.str("HttpHeaderName"), Values: h.strs("Values")}
		case "query-string":
			q := n.child("QueryStringConfig")
			qc := &queryStringConfig{}
			for _, m := range q.members("Values") {
				qc.Values = append(qc.Values, keyValue{Key: m.str("Key"), Value: m.str("Value")})
			}
			if len(qc.Values) == 0 {
				return nil, validationf("A query string condition requires at least one value")
			}
			c.QueryStringConfig = qc
		}
		if c.HostHeaderConfig == nil && c.PathPatternConfig == nil && c.HttpRequestMethodConfig == nil &&
			c.SourceIpConfig == nil && c.HttpHeaderConfig == nil && c.QueryStringConfig == nil {
			return nil, validationf("Condition '%s' requires at least one value", c.Field)
		}
		out = append(out, c)
	}
	return out, nil
}

// checkAssociationLocked refuses actions that would put a target group
// behind a second load balancer.
func (e *ELB) checkAssociationLocked(lbARN string, actions []action) *apiError {
	for tgARN := range forwardTargets(actions) {
		tg := e.tgByARN[tgARN]
		for _, a := range tg.LoadBalancerArns {
			if a != lbARN {
				return errf(http.StatusBadRequest, "TargetGroupAssociationLimit", "The following target groups cannot be associated with more than one load balancer: %s", tgARN)
			}
		}
	}
	return nil
}

func forwardTargets(actions []action) map[string]bool {
	out := map[string]bool{}
	for _, a := range actions {
		if a.ForwardConfig != nil {
			for _, t := range a.ForwardConfig.TargetGroups {
				out[t.TargetGroupArn] = true
			}
		}
	}
	return out
}

// recomputeAssociationsLocked sets every target group's LoadBalancerArns from
// the listeners and rules that forward to it.
func (e *ELB) recomputeAssociationsLocked() {
	assoc := map[string][]string{}
	add := func(tgARN, lbARN string) {
		for _, a := range assoc[tgARN] {
			if a == lbARN {
				return
			}
		}
		assoc[tgARN] = append(assoc[tgARN], lbARN)
	}
	for _, ls := range e.listeners {
		for tgARN := range forwardTargets(ls.DefaultActions) {
			add(tgARN, ls.LoadBalancerArn)
		}
	}
	for _, r := range e.rules {
		ls, ok := e.lsByARN[r.listenerARN]
		if !ok {
			continue
		}
		for tgARN := range forwardTargets(r.Actions) {
			add(tgARN, ls.LoadBalancerArn)
		}
	}
	for _, tg := range e.tgs {
		tg.LoadBalancerArns = assoc[tg.TargetGroupArn]
	}
}

// ---- listeners --------------------------------------------------------------

type listenersResult struct {
	Listeners  []listener `xml:"Listeners>member"`
	NextMarker string     `xml:",omitempty"`
}

func parseCertificates(f *formNode) []certificate {
	var out []certificate
	for _, m := range f.members("Certificates") {
		out = append(out, certificate{CertificateArn: m.str("CertificateArn")})
	}
	return out
}

func (e *ELB) createListener(f *formNode) (any, *apiError) {
	tags, aerr := parseTags(f)
	if aerr != nil {
		return nil, aerr
	}
	lb, ok := e.lbByARN[f.str("LoadBalancerArn")]
	if !ok {
		return nil, errLBNotFound()
	}
	proto := f.str("Protocol")
	if proto == "" {
		if lb.Type == "network" {
			proto = "TCP"
		} else {
			proto = "HTTP"
		}
	}
	if !validProtocols[proto] {
		return nil, validationf("Protocol '%s' is not valid", proto)
	}
	port, hasPort, aerr := f.int32Opt("Port")
	if aerr != nil {
		return nil, aerr
	}
	if !hasPort || port < 1 || port > 65535 {
		return nil, validationf("A listener port between 1 and 65535 must be specified")
	}
	certs := parseCertificates(f)
	if (proto == "HTTPS" || proto == "TLS") && len(certs) == 0 {
		return nil, validationf("A certificate must be specified for %s listeners", proto)
	}
	actions, aerr := e.parseActions(f.members("DefaultActions"))
	if aerr != nil {
		return nil, aerr
	}
	for _, ls := range e.listeners {
		if ls.LoadBalancerArn == lb.LoadBalancerArn && ls.Port == port {
			return nil, errf(http.StatusBadRequest, "DuplicateListener", "A listener already exists on this port for this load balancer")
		}
	}
	if aerr := e.checkAssociationLocked(lb.LoadBalancerArn, actions); aerr != nil {
		return nil, aerr
	}
	id := e.newID("listener", lb.LoadBalancerName)
	base := "/" + lbTypePrefix(lb.Type) + "/" + lb.LoadBalancerName + "/" + lb.id + "/" + id
	sslPolicy := f.str("SslPolicy")
	if sslPolicy == "" && (proto == "HTTPS" || proto == "TLS") {
		sslPolicy = "ELBSecurityPolicy-2016-08"
	}
	ls := &listener{
		ListenerArn:     e.arn("listener" + base),
		LoadBalancerArn: lb.LoadBalancerArn,
		Port:            port,
		Protocol:        proto,
		Certificates:    certs,
		SslPolicy:       sslPolicy,
		DefaultActions:  actions,
		AlpnPolicy:      f.strs("AlpnPolicy"),
		id:              id,
	}
	ls.defaultRuleARN = e.arn("listener-rule" + base + "/" + e.newID("rule", "default"))
	e.listeners = append(e.listeners, ls)
	e.lsByARN[ls.ListenerArn] = ls
	e.tagOnCreateLocked(ls.ListenerArn, tags)
	e.recomputeAssociationsLocked()
	return listenersResult{Listeners: []listener{*ls}}, nil
}

func (e *ELB) describeListeners(f *formNode) (any, *apiError) {
	arns := uniq(f.strs("ListenerArns"))
	lbARN := f.str("LoadBalancerArn")
	var out []listener
	switch {
	case len(arns) > 0 && lbARN != "":
		return nil, validationf("Listener ARNs and a load balancer ARN cannot be specified at the same time")
	case len(arns) > 0:
		for _, a := range arns {
			ls, ok := e.lsByARN[a]
			if !ok {
				return nil, errListenerNotFound()
			}
			out = append(out, *ls)
		}
	case lbARN != "":
		if _, ok := e.lbByARN[lbARN]; !ok {
			return nil, errLBNotFound()
		}
		for _, ls := range e.listeners {
			if ls.LoadBalancerArn == lbARN {
				out = append(out, *ls)
			}
		}
	default:
		return nil, validationf("You must specify either listener ARNs or a load balancer ARN")
	}
	pg, next, aerr := page(out, f)
	if aerr != nil {
		return nil, aerr
	}
	return listenersResult{Listeners: pg, NextMarker: next}, nil
}

func (e *ELB) modifyListener(f *formNode) (any, *apiError) {
	ls, ok := e.lsByARN[f.str("ListenerArn")]
	if !ok {
		return nil, errListenerNotFound()
	}
	next := *ls
	if p := f.str("Protocol"); p != "" {
		if !validProtocols[p] {
			return nil, validationf("Protocol '%s' is not valid", p)
		}
		next.Protocol = p
	}
	if port, ok, aerr := f.int32Opt("Port"); aerr != nil {
		return nil, aerr
	} else if ok {
		if port < 1 || port > 65535 {
			return nil, validationf("Port must be between 1 and 65535")
		}
		for _, other := range e.listeners {
			if other != ls && other.LoadBalancerArn == ls.LoadBalancerArn && other.Port == port {
				return nil, errf(http.StatusBadRequest, "DuplicateListener", "A listener already exists on this port for this load balancer")
			}
		}
		next.Port = port
	}
	if f.has("Certificates") {
		next.Certificates = parseCertificates(f)
	}
	if p := f.str("SslPolicy"); p != "" {
		next.SslPolicy = p
	}
	if f.has("DefaultActions") {
		actions, aerr := e.parseActions(f.members("DefaultActions"))
		if aerr != nil {
			return nil, aerr
		}
		if aerr := e.checkAssociationLocked(ls.LoadBalancerArn, actions); aerr != nil {
			return nil, aerr
		}
		next.DefaultActions = actions
	}
	if (next.Protocol == "HTTPS" || next.Protocol == "TLS") && len(next.Certificates) == 0 {
		return nil, validationf("A certificate must be specified for %s listeners", next.Protocol)
	}
	*ls = next
	e.recomputeAssociationsLocked()
	return listenersResult{Listeners: []listener{*ls}}, nil
}

func (e *ELB) removeListenerLocked(ls *listener) {
	delete(e.lsByARN, ls.ListenerArn)
	delete(e.tags, ls.ListenerArn)
	for arn, r := range e.rules {
		if r.listenerARN == ls.ListenerArn {
			delete(e.rules, arn)
			delete(e.tags, arn)
		}
	}
}

func (e *ELB) deleteListener(f *formNode) (any, *apiError) {
	ls, ok := e.lsByARN[f.str("ListenerArn")]
	if !ok {
		return nil, errListenerNotFound()
	}
	e.removeListenerLocked(ls)
	var keep []*listener
	for _, x := range e.listeners {
		if x != ls {
			keep = append(keep, x)
		}
	}
	e.listeners = keep
	e.recomputeAssociationsLocked()
	return nil, nil
}

// ---- rules ----------------------------------------------------------------

type rulesResult struct {
	Rules      []rule `xml:"Rules>member"`
	NextMarker string `xml:",omitempty"`
}

func (e *ELB) defaultRule(ls *listener) rule {
	return rule{RuleArn: ls.defaultRuleARN, Priority: "default", Actions: ls.DefaultActions, IsDefault: true, listenerARN: ls.ListenerArn}
}

func (e *ELB) createRule(f *formNode) (any, *apiError) {
	tags, aerr := parseTags(f)
	if aerr != nil {
		return nil, aerr
	}
	ls, ok := e.lsByARN[f.str("ListenerArn")]
	if !ok {
		return nil, errListenerNotFound()
	}
	prio, ok, aerr := f.int32Opt("Priority")
	if aerr != nil {
		return nil, aerr
	}
	if !ok || prio < 1 || prio > 50000 {
		return nil, validationf("A rule priority between 1 and 50000 must be specified")
	}
	conds, aerr := parseConditions(f.members("Conditions"))
	if aerr != nil {
		return nil, aerr
	}
	if len(conds) == 0 {
		return nil, validationf("At least one condition must be specified")
	}
	actions, aerr := e.parseActions(f.members("Actions"))
	if aerr != nil {
		return nil, aerr
	}
	for _, r := range e.rules {
		if r.listenerARN == ls.ListenerArn && r.prio == int(prio) {
			return nil, errf(http.StatusBadRequest, "PriorityInUse", "Priority '%d' is currently in use", prio)
		}
	}
	if aerr := e.checkAssociationLocked(ls.LoadBalancerArn, actions); aerr != nil {
		return nil, aerr
	}
	lb := e.lbByARN[ls.LoadBalancerArn]
	base := "/" + lbTypePrefix(lb.Type) + "/" + lb.LoadBalancerName + "/" + lb.id + "/" + ls.id
	r := &rule{
		RuleArn:     e.arn("listener-rule" + base + "/" + e.newID("rule", ls.id)),
		Priority:    strconv.Itoa(int(prio)),
		Conditions:  conds,
		Actions:     actions,
		listenerARN: ls.ListenerArn,
		prio:        int(prio),
	}
	e.rules[r.RuleArn] = r
	e.tagOnCreateLocked(r.RuleArn, tags)
	e.recomputeAssociationsLocked()
	return rulesResult{Rules: []rule{*r}}, nil
}

// findRuleLocked finds a rule, including a listener's default rule.
func (e *ELB) findRuleLocked(arn string) (rule, *listener, bool) {
	if r, ok := e.rules[arn]; ok {
		return *r, nil, true
	}
	for _, ls := range e.listeners {
		if ls.defaultRuleARN == arn {
			return e.defaultRule(ls), ls, true
		}
	}
	return rule{}, nil, false
}

func (e *ELB) describeRules(f *formNode) (any, *apiError) {
	arns := uniq(f.strs("RuleArns"))
	lsARN := f.str("ListenerArn")
	var out []rule
	switch {
	case len(arns) > 0 && lsARN != "":
		return nil, validationf("Rule ARNs and a listener ARN cannot be specified at the same time")
	case len(arns) > 0:
		for _, a := range arns {
			r, _, ok := e.findRuleLocked(a)
			if !ok {
				return nil, errRuleNotFound()
			}
			out = append(out, r)
		}
	case lsARN != "":
		ls, ok := e.lsByARN[lsARN]
		if !ok {
			return nil, errListenerNotFound()
		}
		for _, r := range e.listenerRulesLocked(lsARN) {
			out = append(out, *r)
		}
		out = append(out, e.defaultRule(ls))
	default:
		return nil, validationf("You must specify either listener ARN or rule ARNs")
	}
	pg, next, aerr := page(out, f)
	if aerr != nil {
		return nil, aerr
	}
	return rulesResult{Rules: pg, NextMarker: next}, nil
}

func (e *ELB) modifyRule(f *formNode) (any, *apiError) {
	arn := f.str("RuleArn")
	cur, defLS, ok := e.findRuleLocked(arn)
	if !ok {
		return nil, errRuleNotFound()
	}
	ls := defLS
	if ls == nil {
		ls = e.lsByARN[cur.listenerARN]
	}
	next := cur
	if f.has("Conditions") {
		if defLS != nil {
			return nil, errf(http.StatusBadRequest, "OperationNotPermitted", "The conditions of the default rule cannot be modified")
		}
		conds, aerr := parseConditions(f.members("Conditions"))
		if aerr != nil {
			return nil, aerr
		}
		if len(conds) == 0 {
			return nil, validationf("At least one condition must be specified")
		}
		next.Conditions = conds
	}
	if f.has("Actions") {
		actions, aerr := e.parseActions(f.members("Actions"))
		if aerr != nil {
			return nil, aerr
		}
		if aerr := e.checkAssociationLocked(ls.LoadBalancerArn, actions); aerr != nil {
			return nil, aerr
		}
		next.Actions = actions
	}
	if defLS != nil {
		defLS.DefaultActions = next.Actions
	} else {
		r := e.rules[arn]
		*r = next
	}
	e.recomputeAssociationsLocked()
	return rulesResult{Rules: []rule{next}}, nil
}

func (e *ELB) deleteRule(f *formNode) (any, *apiError) {
	arn := f.str("RuleArn")
	_, defLS, ok := e.findRuleLocked(arn)
	if !ok {
		return nil, errRuleNotFound()
	}
	if defLS != nil {
		return nil, errf(http.StatusBadRequest, "OperationNotPermitted", "The default rule cannot be deleted")
	}
	delete(e.rules, arn)
	delete(e.tags, arn)
	e.recomputeAssociationsLocked()
	return nil, nil
}

// ---- targets ----------------------------------------------------------------

type targetDescription struct {
	Id               string
	Port             int32  `xml:",omitempty"`
	AvailabilityZone string `xml:",omitempty"`
}

type targetHealth struct {
	State       string
	Reason      string `xml:",omitempty"`
	Description string `xml:",omitempty"`
}

type targetHealthDescription struct {
	Target          targetDescription
	HealthCheckPort string `xml:",omitempty"`
	TargetHealth    targetHealth
}

type targetHealthResult struct {
	TargetHealthDescriptions []targetHealthDescription `xml:"TargetHealthDescriptions>member"`
}

func (e *ELB) parseTargets(tg *targetGroup, f *formNode, validate bool) ([]targetDescription, *apiError) {
	ms := f.members("Targets")
	if len(ms) == 0 {
		return nil, validationf("At least one target must be specified")
	}
	out := make([]targetDescription, 0, len(ms))
	for _, m := range ms {
		td := targetDescription{Id: m.str("Id"), AvailabilityZone: m.str("AvailabilityZone")}
		if td.Id == "" {
			return nil, validationf("A target ID must be specified")
		}
		p, ok, aerr := m.int32Opt("Port")
		if aerr != nil {
			return nil, aerr
		}
		if !ok {
			p = tg.Port
		}
		if tg.TargetType != "lambda" && (p < 1 || p > 65535) {
			return nil, validationf("A port between 1 and 65535 must be specified for target '%s'", td.Id)
		}
		td.Port = p
		if validate {
			switch tg.TargetType {
			case "ip":
				if _, err := netip.ParseAddr(td.Id); err != nil {
					return nil, errf(http.StatusBadRequest, "InvalidTarget", "The IP address '%s' is not a valid IP address", td.Id)
				}
			case "instance":
				if !strings.HasPrefix(td.Id, "i-") {
					return nil, errf(http.StatusBadRequest, "InvalidTarget", "The following targets are not valid instances: '%s'", td.Id)
				}
			}
		}
		out = append(out, td)
	}
	return out, nil
}

func (e *ELB) registerTargets(f *formNode) (any, *apiError) {
	tg, ok := e.tgByARN[f.str("TargetGroupArn")]
	if !ok {
		return nil, errTGNotFound()
	}
	tds, aerr := e.parseTargets(tg, f, true)
	if aerr != nil {
		return nil, aerr
	}
	var run []func()
	for _, td := range tds {
		run = append(run, e.registerLocked(tg, td.Id, td.Port, td.AvailabilityZone)...)
	}
	e.runLater(run)
	return nil, nil
}

func (e *ELB) deregisterTargets(f *formNode) (any, *apiError) {
	tg, ok := e.tgByARN[f.str("TargetGroupArn")]
	if !ok {
		return nil, errTGNotFound()
	}
	tds, aerr := e.parseTargets(tg, f, false)
	if aerr != nil {
		return nil, aerr
	}
	var run []func()
	for _, td := range tds {
		run = append(run, e.deregisterLocked(tg, targetKey{id: td.Id, port: td.Port}, nil)...)
	}
	e.runLater(run)
	return nil, nil
}

// runLater runs callbacks outside the lock held by an API operation.
func (e *ELB) runLater(fs []func()) {
	if len(fs) == 0 {
		return
	}
	go func() {
		for _, f := range fs {
			f()
		}
	}()
}

func (e *ELB) describeTargetHealth(f *formNode) (any, *apiError) {
	tg, ok := e.tgByARN[f.str("TargetGroupArn")]
	if !ok {
		return nil, errTGNotFound()
	}
	hcPort := func(p int32) string {
		if tg.HealthCheckPort == "" || tg.HealthCheckPort == "traffic-port" {
			if p == 0 {
				return ""
			}
			return strconv.Itoa(int(p))
		}
		return tg.HealthCheckPort
	}
	// As in AWS, targets of a group that no listener or rule forwards to
	// report unused/Target.NotInUse (draining still shows as draining); the
	// stored state comes back once the group is attached again.
	shown := func(t *target) targetHealth {
		if len(tg.LoadBalancerArns) == 0 && t.state != "draining" {
			return targetHealth{State: "unused", Reason: "Target.NotInUse", Description: "Target group is not configured to receive traffic from the load balancer"}
		}
		return targetHealth{State: t.state, Reason: t.reason, Description: t.description}
	}
	res := targetHealthResult{TargetHealthDescriptions: []targetHealthDescription{}}
	if f.has("Targets") {
		tds, aerr := e.parseTargets(tg, f, false)
		if aerr != nil {
			return nil, aerr
		}
		for _, td := range tds {
			t, ok := tg.targets[targetKey{id: td.Id, port: td.Port}]
			d := targetHealthDescription{Target: td, HealthCheckPort: hcPort(td.Port)}
			if !ok {
				d.TargetHealth = targetHealth{State: "unused", Reason: "Target.NotRegistered", Description: "Target is not registered to the target group"}
			} else {
				d.Target.AvailabilityZone = t.az
				d.TargetHealth = shown(t)
			}
			res.TargetHealthDescriptions = append(res.TargetHealthDescriptions, d)
		}
		return res, nil
	}
	for _, t := range tg.sortedTargets() {
		res.TargetHealthDescriptions = append(res.TargetHealthDescriptions, targetHealthDescription{
			Target:          targetDescription{Id: t.key.id, Port: t.key.port, AvailabilityZone: t.az},
			HealthCheckPort: hcPort(t.key.port),
			TargetHealth:    shown(t),
		})
	}
	return res, nil
}
