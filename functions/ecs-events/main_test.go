package main

import (
	"context"
	"log/slog"
	"strings"
	"testing"
)

func TestBuildNeedsTheTable(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	_, err := build(context.Background(), func(string) string { return "" }, log)
	if err == nil || !strings.Contains(err.Error(), "TABLE_NAME") {
		t.Fatalf("build without TABLE_NAME = %v, want an error naming it", err)
	}
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_ACCESS_KEY_ID", "a")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "b")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	h, err := build(context.Background(), func(k string) string {
		if k == "TABLE_NAME" {
			return "ecsflow"
		}
		return ""
	}, log)
	if err != nil || h == nil {
		t.Fatalf("build = %v, %v", h, err)
	}
}
