// Package cwemu emulates Amazon CloudWatch metric alarms over the Smithy
// rpcv2Cbor wire protocol, as the real aws-sdk-go-v2 cloudwatch client
// speaks it: POST /service/GraniteServiceVersion20100801/operation/<Op> with
// CBOR bodies in and out.
//
// Alarms are not evaluated against metrics: their state changes only through
// SetAlarmState (the API or the Go method, which fault plans use). Every state
// change is reported to Options.OnAlarmChange.
package cwemu

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/fxamacker/cbor/v2"

	"github.com/ecsflow/ecsflow/internal/simclock"
)

// ServiceName is the Smithy service shape name used in request paths.
const ServiceName = "GraniteServiceVersion20100801"

// PathPrefix is the path prefix of every CloudWatch rpcv2Cbor request.
const PathPrefix = "/service/" + ServiceName + "/operation/"

const maxBodyBytes = 1 << 20

// Alarm states.
const (
	StateOK               = "OK"
	StateAlarm            = "ALARM"
	StateInsufficientData = "INSUFFICIENT_DATA"
)

// ErrAlarmNotFound is wrapped by SetAlarmState for an unknown alarm.
var ErrAlarmNotFound = errors.New("alarm not found")

// Options configures a CloudWatch.
type Options struct {
	Clock             simclock.Clock // nil means real time
	Region, AccountID string         // defaults "us-east-1", "123456789012"
	// OnAlarmChange, if set, is called after an alarm changes state (for
	// "CloudWatch Alarm State Change" events). It runs without any lock held.
	OnAlarmChange func(alarmName, alarmARN, oldState, newState, reason string)
}

// CloudWatch is the emulated CloudWatch alarms service. It is safe for
// concurrent use.
type CloudWatch struct {
	clock     simclock.Clock
	region    string
	accountID string
	onChange  func(alarmName, alarmARN, oldState, newState, reason string)

	mu     sync.Mutex
	alarms map[string]*metricAlarm
}

var _ http.Handler = (*CloudWatch)(nil)

var (
	decMode cbor.DecMode
	encMode cbor.EncMode
)

func init() {
	var err error
	decMode, err = cbor.DecOptions{
		MaxNestedLevels:  16,
		MaxArrayElements: 10000,
		MaxMapPairs:      10000,
		DefaultMapType:   nil,
	}.DecMode()
	if err != nil {
		panic(err)
	}
	encMode, err = cbor.EncOptions{Time: cbor.TimeUnixDynamic, TimeTag: cbor.EncTagRequired}.EncMode()
	if err != nil {
		panic(err)
	}
}

// New returns an empty CloudWatch.
func New(opts Options) *CloudWatch {
	if opts.Region == "" {
		opts.Region = "us-east-1"
	}
	if opts.AccountID == "" {
		opts.AccountID = "123456789012"
	}
	return &CloudWatch{
		clock:     opts.Clock,
		region:    opts.Region,
		accountID: opts.AccountID,
		onChange:  opts.OnAlarmChange,
		alarms:    map[string]*metricAlarm{},
	}
}

func (c *CloudWatch) now() time.Time {
	if c.clock == nil {
		return time.Now().UTC()
	}
	return c.clock.Now().UTC()
}

// ---- wire shapes ----------------------------------------------------------------

type dimension struct {
	Name  string
	Value string
}

type metric struct {
	Namespace  string      `cbor:"Namespace,omitempty"`
	MetricName string      `cbor:"MetricName,omitempty"`
	Dimensions []dimension `cbor:"Dimensions,omitempty"`
}

type metricStat struct {
	Metric metric
	Period int32
	Stat   string
	Unit   string `cbor:"Unit,omitempty"`
}

type metricDataQuery struct {
	Id         string
	MetricStat *metricStat `cbor:"MetricStat,omitempty"`
	Expression string      `cbor:"Expression,omitempty"`
	Label      string      `cbor:"Label,omitempty"`
	ReturnData *bool       `cbor:"ReturnData,omitempty"`
	Period     *int32      `cbor:"Period,omitempty"`
	AccountId  string      `cbor:"AccountId,omitempty"`
}

type tag struct {
	Key   string
	Value string
}

type putMetricAlarmInput struct {
	AlarmName                        string
	AlarmDescription                 string
	ActionsEnabled                   *bool
	OKActions                        []string
	AlarmActions                     []string
	InsufficientDataActions          []string
	MetricName                       string
	Namespace                        string
	Statistic                        string
	ExtendedStatistic                string
	Dimensions                       []dimension
	Period                           *int32
	Unit                             string
	EvaluationPeriods                *int32
	DatapointsToAlarm                *int32
	Threshold                        *float64
	ComparisonOperator               string
	TreatMissingData                 string
	EvaluateLowSampleCountPercentile string
	Metrics                          []metricDataQuery
	Tags                             []tag
	ThresholdMetricId                string
}

// metricAlarm is both the stored alarm and its wire form in DescribeAlarms.
type metricAlarm struct {
	AlarmName                          string
	AlarmArn                           string
	AlarmDescription                   string `cbor:"AlarmDescription,omitempty"`
	AlarmConfigurationUpdatedTimestamp time.Time
	ActionsEnabled                     bool
	OKActions                          []string
	AlarmActions                       []string
	InsufficientDataActions            []string
	StateValue                         string
	StateReason                        string
	StateReasonData                    string `cbor:"StateReasonData,omitempty"`
	StateUpdatedTimestamp              time.Time
	StateTransitionedTimestamp         time.Time
	MetricName                         string            `cbor:"MetricName,omitempty"`
	Namespace                          string            `cbor:"Namespace,omitempty"`
	Statistic                          string            `cbor:"Statistic,omitempty"`
	ExtendedStatistic                  string            `cbor:"ExtendedStatistic,omitempty"`
	Dimensions                         []dimension       `cbor:"Dimensions"`
	Period                             *int32            `cbor:"Period,omitempty"`
	Unit                               string            `cbor:"Unit,omitempty"`
	EvaluationPeriods                  int32             `cbor:"EvaluationPeriods"`
	DatapointsToAlarm                  *int32            `cbor:"DatapointsToAlarm,omitempty"`
	Threshold                          *float64          `cbor:"Threshold,omitempty"`
	ComparisonOperator                 string            `cbor:"ComparisonOperator"`
	TreatMissingData                   string            `cbor:"TreatMissingData,omitempty"`
	EvaluateLowSampleCountPercentile   string            `cbor:"EvaluateLowSampleCountPercentile,omitempty"`
	Metrics                            []metricDataQuery `cbor:"Metrics,omitempty"`
	ThresholdMetricId                  string            `cbor:"ThresholdMetricId,omitempty"`
}

type describeAlarmsInput struct {
	AlarmNames      []string
	AlarmNamePrefix string
	AlarmTypes      []string
	StateValue      string
	ActionPrefix    string
	MaxRecords      *int32
	NextToken       string
}

type describeAlarmsOutput struct {
	MetricAlarms    []metricAlarm
	CompositeAlarms []struct{}
	NextToken       string `cbor:"NextToken,omitempty"`
}

type setAlarmStateInput struct {
	AlarmName       string
	StateValue      string
	StateReason     string
	StateReasonData string
}

type deleteAlarmsInput struct {
	AlarmNames []string
}

// ---- errors ---------------------------------------------------------------

type apiError struct {
	status  int
	code    string
	message string
}

func (e *apiError) Error() string { return e.code + ": " + e.message }

func errf(status int, code, format string, args ...any) *apiError {
	return &apiError{status: status, code: code, message: fmt.Sprintf(format, args...)}
}

func invalidValue(format string, args ...any) *apiError {
	return errf(http.StatusBadRequest, "InvalidParameterValue", format, args...)
}

func missing(name string) *apiError {
	return errf(http.StatusBadRequest, "MissingParameter", "The parameter %s is required.", name)
}

// errorShapes maps awsQuery error codes (as CloudWatch's query API names
// them) to the Smithy error shape the SDK resolves from __type.
var errorShapes = map[string]string{
	"ResourceNotFound":            "ResourceNotFound",
	"InvalidParameterValue":       "InvalidParameterValueException",
	"MissingParameter":            "MissingRequiredParameterException",
	"InvalidParameterCombination": "InvalidParameterCombinationException",
	"InvalidNextToken":            "InvalidNextToken",
	"LimitExceeded":               "LimitExceededFault",
	"InvalidFormat":               "InvalidFormatFault",
	"InternalServiceError":        "InternalServiceFault",
}

// WriteError writes an rpcv2Cbor error body {"__type": ..., "message": ...}.
// code may be a query error code (ResourceNotFound, InvalidParameterValue,
// ...) or a Smithy shape name; known codes are written as the service's
// shape id plus the X-Amzn-Query-Error header CloudWatch sends, so that the
// SDK returns its typed error. Other codes (ThrottlingException,
// SerializationException, ...) are written as given.
func WriteError(w http.ResponseWriter, status int, code, message string) {
	typ := code
	queryCode := ""
	if shape, ok := errorShapes[code]; ok {
		typ, queryCode = shape, code
	} else {
		for q, shape := range errorShapes {
			if shape == code {
				typ, queryCode = shape, q
			}
		}
	}
	if queryCode != "" {
		typ = "com.amazonaws.cloudwatch#" + typ
		fault := "Sender"
		if status >= 500 {
			fault = "Receiver"
		}
		w.Header().Set("X-Amzn-Query-Error", queryCode+";"+fault)
	}
	b, err := encMode.Marshal(struct {
		Type    string `cbor:"__type"`
		Message string `cbor:"message"`
	}{typ, message})
	if err != nil {
		b = nil
	}
	h := w.Header()
	h.Set("Content-Type", "application/cbor")
	h.Set("Smithy-Protocol", "rpc-v2-cbor")
	h.Set("X-Amzn-RequestId", newRequestID())
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = (b[6] & 0x0f) | 0x40
	b[8] = (b[8] & 0x3f) | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// ---- dispatch -----------------------------------------------------------------

// ServeHTTP handles POST /service/GraniteServiceVersion20100801/operation/<Op>.
func (c *CloudWatch) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		WriteError(w, http.StatusMethodNotAllowed, "UnknownOperationException", "rpcv2Cbor requests must use POST")
		return
	}
	if !strings.HasPrefix(r.URL.Path, PathPrefix) {
		WriteError(w, http.StatusNotFound, "UnknownOperationException", "no CloudWatch operation at "+r.URL.Path)
		return
	}
	op := strings.TrimPrefix(r.URL.Path, PathPrefix)
	var body []byte
	if r.Body != nil {
		var err error
		body, err = io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				WriteError(w, http.StatusRequestEntityTooLarge, "SerializationException", fmt.Sprintf("request body exceeds %d bytes", maxBodyBytes))
				return
			}
			WriteError(w, http.StatusBadRequest, "SerializationException", "read request body: "+err.Error())
			return
		}
	}
	var (
		out  any
		aerr *apiError
	)
	switch op {
	case "PutMetricAlarm":
		var in putMetricAlarmInput
		if aerr = decode(body, &in); aerr == nil {
			aerr = c.putMetricAlarm(&in)
		}
	case "DescribeAlarms":
		var in describeAlarmsInput
		if aerr = decode(body, &in); aerr == nil {
			out, aerr = c.describeAlarms(&in)
		}
	case "SetAlarmState":
		var in setAlarmStateInput
		if aerr = decode(body, &in); aerr == nil {
			aerr = c.setAlarmStateAPI(&in)
		}
	case "DeleteAlarms":
		var in deleteAlarmsInput
		if aerr = decode(body, &in); aerr == nil {
			aerr = c.deleteAlarms(&in)
		}
	default:
		aerr = errf(http.StatusNotFound, "UnknownOperationException", "operation %q is not supported by this emulator", op)
	}
	if aerr != nil {
		WriteError(w, aerr.status, aerr.code, aerr.message)
		return
	}
	h := w.Header()
	h.Set("Smithy-Protocol", "rpc-v2-cbor")
	h.Set("X-Amzn-RequestId", newRequestID())
	if out == nil {
		w.WriteHeader(http.StatusOK)
		return
	}
	b, err := encMode.Marshal(out)
	if err != nil {
		WriteError(w, http.StatusInternalServerError, "InternalServiceError", "encode response: "+err.Error())
		return
	}
	h.Set("Content-Type", "application/cbor")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}

// decode reads a CBOR request body; an empty body is an empty input.
func decode(body []byte, v any) *apiError {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	if err := decMode.Unmarshal(body, v); err != nil {
		return errf(http.StatusBadRequest, "SerializationException", "could not decode CBOR request body: %v", err)
	}
	return nil
}

// ---- operations ----------------------------------------------------------------

var (
	comparisonOperators = map[string]bool{
		"GreaterThanOrEqualToThreshold": true, "GreaterThanThreshold": true, "LessThanThreshold": true,
		"LessThanOrEqualToThreshold": true, "LessThanLowerOrGreaterThanUpperThreshold": true,
		"LessThanLowerThreshold": true, "GreaterThanUpperThreshold": true,
	}
	statistics       = map[string]bool{"SampleCount": true, "Average": true, "Sum": true, "Minimum": true, "Maximum": true}
	treatMissingData = map[string]bool{"missing": true, "ignore": true, "breaching": true, "notBreaching": true}
	states           = map[string]bool{StateOK: true, StateAlarm: true, StateInsufficientData: true}
)

func validPeriod(p int32) bool {
	return p == 10 || p == 20 || p == 30 || (p >= 60 && p%60 == 0)
}

func (c *CloudWatch) putMetricAlarm(in *putMetricAlarmInput) *apiError {
	if in.AlarmName == "" {
		return missing("AlarmName")
	}
	if len(in.AlarmName) > 255 {
		return invalidValue("The parameter AlarmName must be at most 255 characters.")
	}
	if in.EvaluationPeriods == nil {
		return missing("EvaluationPeriods")
	}
	if *in.EvaluationPeriods < 1 {
		return invalidValue("The parameter EvaluationPeriods must be greater than or equal to 1.")
	}
	if in.ComparisonOperator == "" {
		return missing("ComparisonOperator")
	}
	if !comparisonOperators[in.ComparisonOperator] {
		return invalidValue("The parameter ComparisonOperator has an invalid value %q.", in.ComparisonOperator)
	}
	if in.DatapointsToAlarm != nil && (*in.DatapointsToAlarm < 1 || *in.DatapointsToAlarm > *in.EvaluationPeriods) {
		return invalidValue("DatapointsToAlarm must be between 1 and EvaluationPeriods.")
	}
	if in.TreatMissingData != "" && !treatMissingData[in.TreatMissingData] {
		return invalidValue("The parameter TreatMissingData has an invalid value %q.", in.TreatMissingData)
	}
	if len(in.Metrics) > 0 {
		if in.MetricName != "" || in.Namespace != "" || in.Statistic != "" || in.Period != nil || len(in.Dimensions) > 0 {
			return errf(http.StatusBadRequest, "InvalidParameterCombination", "Metrics list cannot be combined with MetricName, Namespace, Statistic, Period or Dimensions.")
		}
		for _, m := range in.Metrics {
			if m.Id == "" {
				return missing("Metrics.Id")
			}
			if (m.MetricStat == nil) == (m.Expression == "") {
				return invalidValue("Exactly one of MetricStat and Expression must be set in metric %q.", m.Id)
			}
		}
	} else {
		if in.MetricName == "" {
			return missing("MetricName")
		}
		if in.Namespace == "" {
			return missing("Namespace")
		}
		if in.Period == nil {
			return missing("Period")
		}
		if !validPeriod(*in.Period) {
			return invalidValue("The parameter Period must be 10, 20, 30 or a multiple of 60.")
		}
		if (in.Statistic == "") == (in.ExtendedStatistic == "") {
			return errf(http.StatusBadRequest, "InvalidParameterCombination", "Exactly one of Statistic and ExtendedStatistic must be specified.")
		}
		if in.Statistic != "" && !statistics[in.Statistic] {
			return invalidValue("The parameter Statistic has an invalid value %q.", in.Statistic)
		}
	}
	if in.Threshold == nil && in.ThresholdMetricId == "" {
		return missing("Threshold")
	}
	if len(in.AlarmActions) > 5 || len(in.OKActions) > 5 || len(in.InsufficientDataActions) > 5 {
		return invalidValue("At most 5 actions may be specified per state.")
	}
	for _, d := range in.Dimensions {
		if d.Name == "" || d.Value == "" {
			return invalidValue("Dimensions require a Name and a Value.")
		}
	}
	now := c.now()
	enabled := true
	if in.ActionsEnabled != nil {
		enabled = *in.ActionsEnabled
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	a := &metricAlarm{
		AlarmName:                          in.AlarmName,
		AlarmArn:                           c.alarmARN(in.AlarmName),
		AlarmDescription:                   in.AlarmDescription,
		AlarmConfigurationUpdatedTimestamp: now,
		ActionsEnabled:                     enabled,
		OKActions:                          nonNil(in.OKActions),
		AlarmActions:                       nonNil(in.AlarmActions),
		InsufficientDataActions:            nonNil(in.InsufficientDataActions),
		StateValue:                         StateInsufficientData,
		StateReason:                        "Unchecked: Initial alarm creation",
		StateUpdatedTimestamp:              now,
		StateTransitionedTimestamp:         now,
		MetricName:                         in.MetricName,
		Namespace:                          in.Namespace,
		Statistic:                          in.Statistic,
		ExtendedStatistic:                  in.ExtendedStatistic,
		Dimensions:                         nonNilDims(in.Dimensions),
		Period:                             in.Period,
		Unit:                               in.Unit,
		EvaluationPeriods:                  *in.EvaluationPeriods,
		DatapointsToAlarm:                  in.DatapointsToAlarm,
		Threshold:                          in.Threshold,
		ComparisonOperator:                 in.ComparisonOperator,
		TreatMissingData:                   in.TreatMissingData,
		EvaluateLowSampleCountPercentile:   in.EvaluateLowSampleCountPercentile,
		Metrics:                            in.Metrics,
		ThresholdMetricId:                  in.ThresholdMetricId,
	}
	if old, ok := c.alarms[in.AlarmName]; ok {
		// Updating an alarm keeps its state.
		a.StateValue, a.StateReason, a.StateReasonData = old.StateValue, old.StateReason, old.StateReasonData
		a.StateUpdatedTimestamp, a.StateTransitionedTimestamp = old.StateUpdatedTimestamp, old.StateTransitionedTimestamp
	}
	c.alarms[in.AlarmName] = a
	return nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func nonNilDims(d []dimension) []dimension {
	if d == nil {
		return []dimension{}
	}
	return d
}

func (c *CloudWatch) alarmARN(name string) string {
	return "arn:aws:cloudwatch:" + c.region + ":" + c.accountID + ":alarm:" + name
}

func (c *CloudWatch) describeAlarms(in *describeAlarmsInput) (any, *apiError) {
	if len(in.AlarmNames) > 0 && in.AlarmNamePrefix != "" {
		return nil, errf(http.StatusBadRequest, "InvalidParameterCombination", "AlarmNames and AlarmNamePrefix cannot be specified together.")
	}
	if len(in.AlarmNames) > 100 {
		return nil, invalidValue("At most 100 alarm names may be specified.")
	}
	if in.StateValue != "" && !states[in.StateValue] {
		return nil, invalidValue("The parameter StateValue has an invalid value %q.", in.StateValue)
	}
	max := 50
	if in.MaxRecords != nil {
		if *in.MaxRecords < 1 || *in.MaxRecords > 100 {
			return nil, invalidValue("The parameter MaxRecords must be between 1 and 100.")
		}
		max = int(*in.MaxRecords)
	}
	wantMetric := len(in.AlarmTypes) == 0
	for _, t := range in.AlarmTypes {
		switch t {
		case "MetricAlarm":
			wantMetric = true
		case "CompositeAlarm":
		default:
			return nil, invalidValue("The parameter AlarmTypes has an invalid value %q.", t)
		}
	}
	names := map[string]bool{}
	for _, n := range in.AlarmNames {
		names[n] = true
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	var match []*metricAlarm
	if wantMetric {
		for _, a := range c.alarms {
			if len(names) > 0 && !names[a.AlarmName] {
				continue
			}
			if !strings.HasPrefix(a.AlarmName, in.AlarmNamePrefix) {
				continue
			}
			if in.StateValue != "" && a.StateValue != in.StateValue {
				continue
			}
			if in.ActionPrefix != "" && !hasPrefixed(a, in.ActionPrefix) {
				continue
			}
			match = append(match, a)
		}
	}
	sort.Slice(match, func(i, j int) bool { return match[i].AlarmName < match[j].AlarmName })
	start := 0
	if in.NextToken != "" {
		start = -1
		for i, a := range match {
			if a.AlarmName == in.NextToken {
				start = i
				break
			}
		}
		if start < 0 {
			// The alarm the token points at may have been deleted: resume
			// after where it would sort.
			start = sort.Search(len(match), func(i int) bool { return match[i].AlarmName > in.NextToken })
			if !validToken(in.NextToken) {
				return nil, errf(http.StatusBadRequest, "InvalidNextToken", "The service returned an invalid next token.")
			}
		}
	}
	out := describeAlarmsOutput{MetricAlarms: []metricAlarm{}, CompositeAlarms: []struct{}{}}
	for i := start; i < len(match); i++ {
		if len(out.MetricAlarms) == max {
			out.NextToken = match[i].AlarmName
			break
		}
		out.MetricAlarms = append(out.MetricAlarms, *match[i])
	}
	return out, nil
}

func validToken(s string) bool { return len(s) <= 255 }

func jsonValid(s string) bool { return json.Valid([]byte(s)) }

func hasPrefixed(a *metricAlarm, prefix string) bool {
	for _, list := range [][]string{a.AlarmActions, a.OKActions, a.InsufficientDataActions} {
		for _, s := range list {
			if strings.HasPrefix(s, prefix) {
				return true
			}
		}
	}
	return false
}

func (c *CloudWatch) setAlarmStateAPI(in *setAlarmStateInput) *apiError {
	if in.AlarmName == "" {
		return missing("AlarmName")
	}
	if in.StateValue == "" {
		return missing("StateValue")
	}
	if in.StateReason == "" {
		return missing("StateReason")
	}
	if in.StateReasonData != "" && !jsonValid(in.StateReasonData) {
		return errf(http.StatusBadRequest, "InvalidFormat", "StateReasonData is not valid JSON.")
	}
	return c.setState(in.AlarmName, in.StateValue, in.StateReason, in.StateReasonData)
}

func (c *CloudWatch) setState(name, state, reason, reasonData string) *apiError {
	if !states[state] {
		return invalidValue("The parameter StateValue has an invalid value %q.", state)
	}
	if len(reason) > 1023 {
		return invalidValue("The parameter StateReason must be at most 1023 characters.")
	}
	c.mu.Lock()
	a, ok := c.alarms[name]
	if !ok {
		c.mu.Unlock()
		return errf(http.StatusNotFound, "ResourceNotFound", "Alarm %s not found", name)
	}
	now := c.now()
	old := a.StateValue
	// Replace rather than mutate: responses already built share no memory
	// with the stored alarm.
	next := *a
	next.StateValue, next.StateReason, next.StateReasonData = state, reason, reasonData
	next.StateUpdatedTimestamp = now
	if old != state {
		next.StateTransitionedTimestamp = now
	}
	c.alarms[name] = &next
	hook := c.onChange
	arn := next.AlarmArn
	c.mu.Unlock()
	if old != state && hook != nil {
		hook(name, arn, old, state, reason)
	}
	return nil
}

func (c *CloudWatch) deleteAlarms(in *deleteAlarmsInput) *apiError {
	if len(in.AlarmNames) == 0 {
		return missing("AlarmNames")
	}
	if len(in.AlarmNames) > 100 {
		return invalidValue("At most 100 alarm names may be specified.")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, n := range in.AlarmNames {
		if _, ok := c.alarms[n]; !ok {
			return errf(http.StatusNotFound, "ResourceNotFound", "Alarm %s not found", n)
		}
	}
	for _, n := range in.AlarmNames {
		delete(c.alarms, n)
	}
	return nil
}

// ---- Go API for the world ------------------------------------------------------

// SetAlarmState sets an alarm's state as the SetAlarmState API does (used by
// fault plans). It wraps ErrAlarmNotFound for an unknown alarm.
func (c *CloudWatch) SetAlarmState(name, state, reason string) error {
	if aerr := c.setState(name, state, reason, ""); aerr != nil {
		if aerr.code == "ResourceNotFound" {
			return fmt.Errorf("set alarm state of %s: %w", name, ErrAlarmNotFound)
		}
		return fmt.Errorf("set alarm state of %s: %s", name, aerr.message)
	}
	return nil
}

// AlarmState returns an alarm's current state.
func (c *CloudWatch) AlarmState(name string) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	a, ok := c.alarms[name]
	if !ok {
		return "", false
	}
	return a.StateValue, true
}

// Snapshot is the JSON form of the CloudWatch state.
type Snapshot struct {
	Alarms []SnapshotAlarm `json:"alarms"`
}

// SnapshotAlarm is one alarm in a Snapshot.
type SnapshotAlarm struct {
	Name        string    `json:"name"`
	ARN         string    `json:"arn"`
	State       string    `json:"state"`
	Reason      string    `json:"reason"`
	UpdatedAt   time.Time `json:"updatedAt"`
	MetricName  string    `json:"metricName,omitempty"`
	Namespace   string    `json:"namespace,omitempty"`
	Threshold   *float64  `json:"threshold,omitempty"`
	Comparison  string    `json:"comparisonOperator"`
	Evaluations int32     `json:"evaluationPeriods"`
}

// Snapshot returns the state as a JSON-marshalable value.
func (c *CloudWatch) Snapshot() any {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := Snapshot{Alarms: []SnapshotAlarm{}}
	for _, a := range c.alarms {
		s.Alarms = append(s.Alarms, SnapshotAlarm{
			Name: a.AlarmName, ARN: a.AlarmArn, State: a.StateValue, Reason: a.StateReason, UpdatedAt: a.StateUpdatedTimestamp,
			MetricName: a.MetricName, Namespace: a.Namespace, Threshold: a.Threshold, Comparison: a.ComparisonOperator, Evaluations: a.EvaluationPeriods,
		})
	}
	sort.Slice(s.Alarms, func(i, j int) bool { return s.Alarms[i].Name < s.Alarms[j].Name })
	return s
}
