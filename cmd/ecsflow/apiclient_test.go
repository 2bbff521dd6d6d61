package main

import (
	"bytes"
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
