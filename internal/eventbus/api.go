package eventbus

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The EventBridge API over awsJson1_1: POST / with X-Amz-Target
// "AWSEvents.<Operation>" and a JSON body; errors carry "__type".

const maxBody = 1 << 20

// ServeHTTP serves the EventBridge operations PutEvents, PutRule,
// DescribeRule, ListRules, DeleteRule, EnableRule, DisableRule, PutTargets,
// RemoveTargets, ListTargetsByRule and TestEventPattern.
func (b *Bus) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	target := r.Header.Get("X-Amz-Target")
	op, ok := strings.CutPrefix(target, "AWSEvents.")
	if r.Method != http.MethodPost || !ok {
		writeErr(w, http.StatusBadRequest, &APIError{Code: "UnknownOperationException",
			Message: fmt.Sprintf("unknown operation %q", target)})
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil || len(body) > maxBody {
		writeErr(w, http.StatusBadRequest, validationf("request body is unreadable or larger than %d bytes", maxBody))
		return
	}
	if len(body) == 0 {
		body = []byte("{}")
	}
	h, ok := operations[op]
	if !ok {
		writeErr(w, http.StatusBadRequest, &APIError{Code: "UnknownOperationException",
			Message: fmt.Sprintf("operation %s is not supported by the local event bus", op)})
		return
	}
	out, err := h(b, r, body)
	if err != nil {
		var ae *APIError
		if errors.As(err, &ae) {
			status := http.StatusBadRequest
			if ae.Code == "InternalException" {
				status = http.StatusInternalServerError
			}
			writeErr(w, status, ae)
			return
		}
		writeErr(w, http.StatusInternalServerError, &APIError{Code: "InternalException", Message: err.Error()})
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-RequestId", newUUID())
	if err := json.NewEncoder(w).Encode(out); err != nil {
		b.log.Warn("write EventBridge response", "op", op, "err", err)
	}
}

func writeErr(w http.ResponseWriter, status int, e *APIError) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-ErrorType", e.Code)
	w.Header().Set("X-Amzn-RequestId", newUUID())
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": e.Code, "message": e.Message})
}

type opFunc func(b *Bus, r *http.Request, body []byte) (any, error)

var operations map[string]opFunc

func init() {
	operations = map[string]opFunc{
		"PutEvents":         opPutEvents,
		"PutRule":           opPutRule,
		"DescribeRule":      opDescribeRule,
		"ListRules":         opListRules,
		"DeleteRule":        opDeleteRule,
		"EnableRule":        opEnableRule,
		"DisableRule":       opDisableRule,
		"PutTargets":        opPutTargets,
		"RemoveTargets":     opRemoveTargets,
		"ListTargetsByRule": opListTargetsByRule,
		"TestEventPattern":  opTestEventPattern,
	}
}

func decode(body []byte, v any) error {
	if err := json.Unmarshal(body, v); err != nil {
		return &APIError{Code: "SerializationException", Message: fmt.Sprintf("could not decode request: %v", err)}
	}
	return nil
}

type putEventsEntry struct {
	Source       string       `json:"Source"`
	DetailType   string       `json:"DetailType"`
	Detail       *string      `json:"Detail"`
	Resources    []string     `json:"Resources"`
	Time         *json.Number `json:"Time"`
	EventBusName string       `json:"EventBusName"`
}

type putEventsResultEntry struct {
	EventId      string `json:"EventId,omitempty"`
	ErrorCode    string `json:"ErrorCode,omitempty"`
	ErrorMessage string `json:"ErrorMessage,omitempty"`
}

func opPutEvents(b *Bus, r *http.Request, body []byte) (any, error) {
	var in struct {
		Entries []putEventsEntry `json:"Entries"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if len(in.Entries) == 0 || len(in.Entries) > 10 {
		return nil, validationf("1 validation error detected: Value at 'entries' failed to satisfy constraint: Member must have length between 1 and 10")
	}
	out := struct {
		Entries          []putEventsResultEntry `json:"Entries"`
		FailedEntryCount int                    `json:"FailedEntryCount"`
	}{}
	for _, e := range in.Entries {
		entry := Entry{Source: e.Source, DetailType: e.DetailType, Resources: e.Resources, EventBusName: e.EventBusName}
		if e.Detail != nil {
			entry.Detail = json.RawMessage(*e.Detail)
		}
		if e.Time != nil {
			secs, err := e.Time.Float64()
			if err != nil || math.IsNaN(secs) || math.IsInf(secs, 0) {
				return nil, validationf("Time %s is not a valid timestamp", e.Time.String())
			}
			whole, frac := math.Modf(secs)
			entry.Time = time.Unix(int64(whole), int64(frac*1e9)).UTC()
		}
		id, eerr := b.putOne(r.Context(), entry)
		if eerr != nil {
			out.FailedEntryCount++
			out.Entries = append(out.Entries, putEventsResultEntry{ErrorCode: eerr.code, ErrorMessage: eerr.msg})
			continue
		}
		out.Entries = append(out.Entries, putEventsResultEntry{EventId: id})
	}
	return out, nil
}

func opPutRule(b *Bus, _ *http.Request, body []byte) (any, error) {
	var in Rule
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	in.Arn, in.CreatedBy = "", ""
	arn, err := b.PutRule(in)
	if err != nil {
		return nil, err
	}
	return map[string]string{"RuleArn": arn}, nil
}

type ruleRef struct {
	Name         string `json:"Name"`
	EventBusName string `json:"EventBusName"`
	Force        bool   `json:"Force"`
}

func opDescribeRule(b *Bus, _ *http.Request, body []byte) (any, error) {
	var in ruleRef
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	return b.DescribeRule(in.Name, in.EventBusName)
}

func opDeleteRule(b *Bus, _ *http.Request, body []byte) (any, error) {
	var in ruleRef
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	return struct{}{}, b.DeleteRule(in.Name, in.EventBusName, in.Force)
}

func opEnableRule(b *Bus, _ *http.Request, body []byte) (any, error) {
	var in ruleRef
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	return struct{}{}, b.SetRuleState(in.Name, in.EventBusName, true)
}

func opDisableRule(b *Bus, _ *http.Request, body []byte) (any, error) {
	var in ruleRef
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	return struct{}{}, b.SetRuleState(in.Name, in.EventBusName, false)
}

// page slices n items by an offset token; limit <= 0 means 100.
func page(n int, token string, limit int) (start, end int, next string, err error) {
	if token != "" {
		start, err = strconv.Atoi(token)
		if err != nil || start < 0 || start > n {
			return 0, 0, "", validationf("The NextToken provided is invalid.")
		}
	}
	if limit <= 0 || limit > 100 {
		limit = 100
	}
	end = min(start+limit, n)
	if end < n {
		next = strconv.Itoa(end)
	}
	return start, end, next, nil
}

func opListRules(b *Bus, _ *http.Request, body []byte) (any, error) {
	var in struct {
		NamePrefix   string `json:"NamePrefix"`
		EventBusName string `json:"EventBusName"`
		NextToken    string `json:"NextToken"`
		Limit        int    `json:"Limit"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	rules := b.ListRules(in.NamePrefix, in.EventBusName)
	start, end, next, err := page(len(rules), in.NextToken, in.Limit)
	if err != nil {
		return nil, err
	}
	return struct {
		Rules     []Rule `json:"Rules"`
		NextToken string `json:"NextToken,omitempty"`
	}{append([]Rule{}, rules[start:end]...), next}, nil
}

type failedEntries struct {
	FailedEntryCount int           `json:"FailedEntryCount"`
	FailedEntries    []FailedEntry `json:"FailedEntries"`
}

func opPutTargets(b *Bus, _ *http.Request, body []byte) (any, error) {
	var in struct {
		Rule         string   `json:"Rule"`
		EventBusName string   `json:"EventBusName"`
		Targets      []Target `json:"Targets"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	failed, err := b.PutTargets(in.Rule, in.EventBusName, in.Targets)
	if err != nil {
		return nil, err
	}
	return failedEntries{len(failed), append([]FailedEntry{}, failed...)}, nil
}

func opRemoveTargets(b *Bus, _ *http.Request, body []byte) (any, error) {
	var in struct {
		Rule         string   `json:"Rule"`
		EventBusName string   `json:"EventBusName"`
		Ids          []string `json:"Ids"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	failed, err := b.RemoveTargets(in.Rule, in.EventBusName, in.Ids)
	if err != nil {
		return nil, err
	}
	return failedEntries{len(failed), append([]FailedEntry{}, failed...)}, nil
}

func opListTargetsByRule(b *Bus, _ *http.Request, body []byte) (any, error) {
	var in struct {
		Rule         string `json:"Rule"`
		EventBusName string `json:"EventBusName"`
		NextToken    string `json:"NextToken"`
		Limit        int    `json:"Limit"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	targets, err := b.ListTargetsByRule(in.Rule, in.EventBusName)
	if err != nil {
		return nil, err
	}
	start, end, next, err := page(len(targets), in.NextToken, in.Limit)
	if err != nil {
		return nil, err
	}
	return struct {
		Targets   []Target `json:"Targets"`
		NextToken string   `json:"NextToken,omitempty"`
	}{append([]Target{}, targets[start:end]...), next}, nil
}

func opTestEventPattern(_ *Bus, _ *http.Request, body []byte) (any, error) {
	var in struct {
		EventPattern string `json:"EventPattern"`
		Event        string `json:"Event"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	ok, err := TestEventPattern(in.EventPattern, in.Event)
	if err != nil {
		return nil, err
	}
	return map[string]bool{"Result": ok}, nil
}
