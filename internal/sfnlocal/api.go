package sfnlocal

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

var _ http.Handler = (*Service)(nil)

const targetPrefix = "AWSStepFunctions."

// Matches reports whether r is a Step Functions API call (its X-Amz-Target
// starts with "AWSStepFunctions."), so one listener can route between
// sfnlocal and other emulated services.
func Matches(r *http.Request) bool {
	return strings.HasPrefix(r.Header.Get("X-Amz-Target"), targetPrefix)
}

// ServeHTTP serves the Step Functions API (awsJson1_0).
func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		writeAPIError(w, http.StatusMethodNotAllowed, apiErr("UnknownOperationException", "only POST is supported"))
		return
	}
	op, ok := strings.CutPrefix(r.Header.Get("X-Amz-Target"), targetPrefix)
	if !ok {
		writeAPIError(w, http.StatusBadRequest, apiErr("UnknownOperationException", "missing or foreign X-Amz-Target %q", r.Header.Get("X-Amz-Target")))
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 8<<20))
	if err != nil {
		writeAPIError(w, http.StatusBadRequest, apiErr("SerializationException", "read request body: %v", err))
		return
	}
	if len(strings.TrimSpace(string(body))) == 0 {
		body = []byte("{}")
	}
	h, ok := apiOps[op]
	if !ok {
		writeAPIError(w, http.StatusBadRequest, apiErr("UnknownOperationException", "the operation %q is not supported by sfnlocal", op))
		return
	}
	out, err := h(s, r.Context(), body)
	if err != nil {
		var ae *APIError
		if !errors.As(err, &ae) {
			ae = apiErr("InternalFailure", "%v", err)
			writeAPIError(w, http.StatusInternalServerError, ae)
			return
		}
		writeAPIError(w, http.StatusBadRequest, ae)
		return
	}
	b, err := json.Marshal(out)
	if err != nil {
		writeAPIError(w, http.StatusInternalServerError, apiErr("InternalFailure", "encode response: %v", err))
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.Header().Set("x-amzn-RequestId", newRequestID())
	_, _ = w.Write(b)
}

func writeAPIError(w http.ResponseWriter, status int, e *APIError) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.Header().Set("X-Amzn-ErrorType", e.Code)
	w.Header().Set("x-amzn-RequestId", newRequestID())
	w.WriteHeader(status)
	b, _ := json.Marshal(map[string]string{"__type": "com.amazonaws.swf.service.v2.model#" + e.Code, "message": e.Message})
	_, _ = w.Write(b)
}

type opFunc func(s *Service, ctx context.Context, body []byte) (any, error)

func decodeReq[T any](body []byte) (T, error) {
	var v T
	if err := json.Unmarshal(body, &v); err != nil {
		return v, apiErr("SerializationException", "decode request: %v", err)
	}
	return v, nil
}

func epoch(t time.Time) json.Number {
	return json.Number(strconv.FormatFloat(float64(t.UnixNano())/1e9, 'f', 3, 64))
}

func required(field, v string) error {
	if v == "" {
		return apiErr("ValidationException", "1 validation error detected: Value null at '%s' failed to satisfy constraint: Member must not be null", field)
	}
	return nil
}

// page slices items for maxResults/nextToken paging.
func page[T any](items []T, maxResults int, nextToken string, def int) ([]T, string, error) {
	start := 0
	if nextToken != "" {
		n, err := strconv.Atoi(nextToken)
		if err != nil || n < 0 || n > len(items) {
			return nil, "", apiErr("InvalidToken", "Invalid Token: '%s'", nextToken)
		}
		start = n
	}
	if maxResults <= 0 {
		maxResults = def
	}
	end := min(start+maxResults, len(items))
	next := ""
	if end < len(items) {
		next = strconv.Itoa(end)
	}
	return items[start:end], next, nil
}

var apiOps = map[string]opFunc{
	"CreateStateMachine": func(s *Service, ctx context.Context, body []byte) (any, error) {
		req, err := decodeReq[struct {
			Name       string `json:"name"`
			Definition string `json:"definition"`
			RoleArn    string `json:"roleArn"`
			Type       string `json:"type"`
		}](body)
		if err != nil {
			return nil, err
		}
		if err := required("name", req.Name); err != nil {
			return nil, err
		}
		if err := required("definition", req.Definition); err != nil {
			return nil, err
		}
		if req.Type != "" && req.Type != "STANDARD" {
			return nil, apiErr("StateMachineTypeNotSupported", "only STANDARD state machines are supported, got %q", req.Type)
		}
		sm, err := s.createStateMachine(ctx, req.Name, req.Definition, req.RoleArn)
		if err != nil {
			return nil, err
		}
		return map[string]any{"stateMachineArn": sm.arn, "creationDate": epoch(sm.created)}, nil
	},
	"UpdateStateMachine": func(s *Service, ctx context.Context, body []byte) (any, error) {
		req, err := decodeReq[struct {
			Arn        string `json:"stateMachineArn"`
			Definition string `json:"definition"`
			RoleArn    string `json:"roleArn"`
		}](body)
		if err != nil {
			return nil, err
		}
		if err := required("stateMachineArn", req.Arn); err != nil {
			return nil, err
		}
		if req.Definition == "" && req.RoleArn == "" {
			return nil, apiErr("MissingRequiredParameter", "either the definition or the roleArn must be given")
		}
		if _, err := s.lookupMachine(req.Arn); err != nil {
			return nil, err
		}
		if err := s.UpdateStateMachine(ctx, req.Arn, req.Definition, req.RoleArn); err != nil {
			return nil, err
		}
		sm, err := s.lookupMachine(req.Arn)
		if err != nil {
			return nil, err
		}
		return map[string]any{"updateDate": epoch(s.clock.Now()), "revisionId": sm.revision}, nil
	},
	"DescribeStateMachine": func(s *Service, _ context.Context, body []byte) (any, error) {
		req, err := decodeReq[struct {
			Arn string `json:"stateMachineArn"`
		}](body)
		if err != nil {
			return nil, err
		}
		sm, err := s.lookupMachine(req.Arn)
		if err != nil {
			return nil, err
		}
		return map[string]any{
			"stateMachineArn": sm.arn, "name": sm.name, "status": "ACTIVE", "definition": sm.definition,
			"roleArn": sm.roleARN, "type": sm.typ, "creationDate": epoch(sm.created), "revisionId": sm.revision,
			"loggingConfiguration": map[string]any{"level": "OFF", "includeExecutionData": false},
		}, nil
	},
	"DeleteStateMachine": func(s *Service, _ context.Context, body []byte) (any, error) {
		req, err := decodeReq[struct {
			Arn string `json:"stateMachineArn"`
		}](body)
		if err != nil {
			return nil, err
		}
		if _, err := s.lookupMachine(req.Arn); err != nil {
			return nil, err
		}
		s.mu.Lock()
		delete(s.machines, req.Arn)
		s.mu.Unlock()
		return map[string]any{}, nil
	},
	"ListStateMachines": func(s *Service, _ context.Context, body []byte) (any, error) {
		req, err := decodeReq[struct {
			MaxResults int    `json:"maxResults"`
			NextToken  string `json:"nextToken"`
		}](body)
		if err != nil {
			return nil, err
		}
		items, next, err := page(s.listMachines(), req.MaxResults, req.NextToken, 100)
		if err != nil {
			return nil, err
		}
		list := make([]map[string]any, 0, len(items))
		for _, sm := range items {
			list = append(list, map[string]any{"stateMachineArn": sm.arn, "name": sm.name, "type": sm.typ, "creationDate": epoch(sm.created)})
		}
		out := map[string]any{"stateMachines": list}
		if next != "" {
			out["nextToken"] = next
		}
		return out, nil
	},
	"ValidateStateMachineDefinition": func(s *Service, _ context.Context, body []byte) (any, error) {
		req, err := decodeReq[struct {
			Definition string `json:"definition"`
		}](body)
		if err != nil {
			return nil, err
		}
		diags := []map[string]any{}
		result := "OK"
		if err := Validate(req.Definition); err != nil {
			result = "FAIL"
			var de *DefinitionError
			if errors.As(err, &de) {
				for _, d := range de.Diagnostics {
					m := map[string]any{"severity": "ERROR", "code": d.Code, "message": d.Message}
					if d.Location != "" {
						m["location"] = d.Location
					}
					diags = append(diags, m)
				}
			}
		}
		return map[string]any{"result": result, "diagnostics": diags, "truncated": false}, nil
	},
	"StartExecution": func(s *Service, ctx context.Context, body []byte) (any, error) {
		req, err := decodeReq[struct {
			Arn   string  `json:"stateMachineArn"`
			Name  string  `json:"name"`
			Input *string `json:"input"`
		}](body)
		if err != nil {
			return nil, err
		}
		if err := required("stateMachineArn", req.Arn); err != nil {
			return nil, err
		}
		input := ""
		if req.Input != nil {
			input = *req.Input
		}
		e, err := s.startExecution(ctx, req.Arn, req.Name, input)
		if err != nil {
			return nil, err
		}
		return map[string]any{"executionArn": e.arn, "startDate": epoch(e.startTime)}, nil
	},
	"DescribeExecution": func(s *Service, ctx context.Context, body []byte) (any, error) {
		req, err := decodeReq[struct {
			Arn string `json:"executionArn"`
		}](body)
		if err != nil {
			return nil, err
		}
		x, err := s.DescribeExecution(ctx, req.Arn)
		if err != nil {
			return nil, err
		}
		out := executionListItem(x)
		out["input"] = x.Input
		out["inputDetails"] = map[string]any{"included": true}
		if x.Status == statusSucceeded {
			out["output"] = x.Output
			out["outputDetails"] = map[string]any{"included": true}
		}
		if x.Error != "" {
			out["error"] = x.Error
		}
		if x.Cause != "" {
			out["cause"] = x.Cause
		}
		return out, nil
	},
	"StopExecution": func(s *Service, ctx context.Context, body []byte) (any, error) {
		req, err := decodeReq[struct {
			Arn   string `json:"executionArn"`
			Error string `json:"error"`
			Cause string `json:"cause"`
		}](body)
		if err != nil {
			return nil, err
		}
		stop, err := s.StopExecution(ctx, req.Arn, req.Error, req.Cause)
		if err != nil {
			return nil, err
		}
		return map[string]any{"stopDate": epoch(stop)}, nil
	},
	"ListExecutions": func(s *Service, ctx context.Context, body []byte) (any, error) {
		req, err := decodeReq[struct {
			Arn          string `json:"stateMachineArn"`
			StatusFilter string `json:"statusFilter"`
			MaxResults   int    `json:"maxResults"`
			NextToken    string `json:"nextToken"`
		}](body)
		if err != nil {
			return nil, err
		}
		if err := required("stateMachineArn", req.Arn); err != nil {
			return nil, err
		}
		all, err := s.ListExecutions(ctx, req.Arn, req.StatusFilter)
		if err != nil {
			return nil, err
		}
		items, next, err := page(all, req.MaxResults, req.NextToken, 100)
		if err != nil {
			return nil, err
		}
		list := make([]map[string]any, 0, len(items))
		for _, x := range items {
			list = append(list, executionListItem(x))
		}
		out := map[string]any{"executions": list}
		if next != "" {
			out["nextToken"] = next
		}
		return out, nil
	},
	"GetExecutionHistory": func(s *Service, ctx context.Context, body []byte) (any, error) {
		req, err := decodeReq[struct {
			Arn          string `json:"executionArn"`
			MaxResults   int    `json:"maxResults"`
			NextToken    string `json:"nextToken"`
			ReverseOrder bool   `json:"reverseOrder"`
			IncludeData  *bool  `json:"includeExecutionData"`
		}](body)
		if err != nil {
			return nil, err
		}
		events, err := s.GetExecutionHistory(ctx, req.Arn)
		if err != nil {
			return nil, err
		}
		if req.ReverseOrder {
			for i, j := 0, len(events)-1; i < j; i, j = i+1, j-1 {
				events[i], events[j] = events[j], events[i]
			}
		}
		items, next, err := page(events, req.MaxResults, req.NextToken, 100)
		if err != nil {
			return nil, err
		}
		include := req.IncludeData == nil || *req.IncludeData
		list := make([]map[string]any, 0, len(items))
		for _, ev := range items {
			list = append(list, eventJSON(ev, include))
		}
		out := map[string]any{"events": list}
		if next != "" {
			out["nextToken"] = next
		}
		return out, nil
	},
	"SendTaskSuccess": func(s *Service, ctx context.Context, body []byte) (any, error) {
		req, err := decodeReq[struct {
			Token  string `json:"taskToken"`
			Output string `json:"output"`
		}](body)
		if err != nil {
			return nil, err
		}
		if err := required("taskToken", req.Token); err != nil {
			return nil, err
		}
		return map[string]any{}, s.SendTaskSuccess(ctx, req.Token, req.Output)
	},
	"SendTaskFailure": func(s *Service, ctx context.Context, body []byte) (any, error) {
		req, err := decodeReq[struct {
			Token string `json:"taskToken"`
			Error string `json:"error"`
			Cause string `json:"cause"`
		}](body)
		if err != nil {
			return nil, err
		}
		if err := required("taskToken", req.Token); err != nil {
			return nil, err
		}
		return map[string]any{}, s.SendTaskFailure(ctx, req.Token, req.Error, req.Cause)
	},
	"SendTaskHeartbeat": func(s *Service, ctx context.Context, body []byte) (any, error) {
		req, err := decodeReq[struct {
			Token string `json:"taskToken"`
		}](body)
		if err != nil {
			return nil, err
		}
		if err := required("taskToken", req.Token); err != nil {
			return nil, err
		}
		return map[string]any{}, s.SendTaskHeartbeat(ctx, req.Token)
	},
}

func executionListItem(x Execution) map[string]any {
	out := map[string]any{
		"executionArn": x.ExecutionARN, "stateMachineArn": x.StateMachineARN, "name": x.Name,
		"status": x.Status, "startDate": epoch(x.StartDate),
	}
	if !x.StopDate.IsZero() {
		out["stopDate"] = epoch(x.StopDate)
	}
	return out
}

func eventJSON(ev HistoryEvent, includeData bool) map[string]any {
	m := map[string]any{"id": ev.ID, "previousEventId": ev.PreviousEventID, "timestamp": epoch(ev.Timestamp), "type": ev.Type}
	if ev.DetailsKey != "" {
		d := make(map[string]any, len(ev.Details))
		for k, v := range ev.Details {
			if !includeData && (k == "input" || k == "output" || k == "parameters") {
				continue
			}
			d[k] = v
		}
		m[ev.DetailsKey] = d
	}
	return m
}

// String helps debugging: "TYPE(details)".
func (ev HistoryEvent) String() string {
	return fmt.Sprintf("%d %s %v", ev.ID, ev.Type, ev.Details)
}
