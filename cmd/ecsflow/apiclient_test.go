package main

import (
	"bytes"
	"errors"
	"testing"

	"github.com/ecsflow/ecsflow/internal/model"
)

func TestWriteJSONList(t *testing.T) {
	tests := []struct {
		name string
		xs   []*model.Deployment
		want string
	}{
		{"nil is an empty list", nil, "[]\n"},
		{"empty", []*model.Deployment{}, "[]\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := writeJSONList(&b, tt.xs); err != nil {
				t.Fatalf("writeJSONList: %v", err)
			}
			if got := b.String(); got != tt.want {
				t.Errorf("writeJSONList(%v) = %q, want %q", tt.xs, got, tt.want)
			}
		})
	}
	var b bytes.Buffer
	if err := writeJSONList(&b, []model.Entity{&model.Application{Name: "shop"}}); err != nil {
		t.Fatalf("writeJSONList: %v", err)
	}
	if !bytes.HasPrefix(b.Bytes(), []byte("[\n")) || !bytes.Contains(b.Bytes(), []byte(`"shop"`)) {
		t.Errorf("writeJSONList of one application = %s, want an indented list holding it", b.String())
	}
}

func TestWriteResult(t *testing.T) {
	verdict := errors.New("deployment d-1 ended FAILED")
	tests := []struct {
		name     string
		asJSON   bool
		verdict  error
		want     string
		wantText bool
	}{
		{"json, success", true, nil, "{\n  \"id\": \"d-1\"\n}\n", false},
		{"json, failure", true, verdict, "{\n  \"id\": \"d-1\"\n}\n", false},
		{"text, success", false, nil, "text\n", true},
		{"text, failure", false, verdict, "text\n", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			wrote := false
			err := writeResult(&b, tt.asJSON, map[string]string{"id": "d-1"}, func() { wrote = true; b.WriteString("text\n") }, tt.verdict)
			if err != tt.verdict {
				t.Errorf("writeResult = %v, want %v", err, tt.verdict)
			}
			if got := b.String(); got != tt.want {
				t.Errorf("writeResult wrote %q, want %q", got, tt.want)
			}
			if wrote != tt.wantText {
				t.Errorf("writeResult called text: %v, want %v", wrote, tt.wantText)
			}
		})
	}
	if err := writeResult(failingWriter{}, true, 1, func() {}, nil); err == nil {
		t.Errorf("writeResult to a failing writer = nil, want its error")
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }
