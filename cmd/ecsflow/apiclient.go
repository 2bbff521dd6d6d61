package main

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/ecsflow/ecsflow/internal/client"
	"github.com/ecsflow/ecsflow/internal/model"
)

// apiFlags are the flags every API command shares: --endpoint and -o.
type apiFlags struct {
	endpoint string
	output   string
	// tty forces (true) or denies (false) terminal output; nil detects it.
	tty *bool
}

var globalAPI = &apiFlags{}

func init() {
	addAPIFlags(rootCmd, globalAPI)
	addAPICommands(rootCmd, globalAPI)
}

func addAPIFlags(root *cobra.Command, g *apiFlags) {
	// ECSFLOW_API_URL is what `ecsflow local` exports.
	def := cmp.Or(os.Getenv("ECSFLOW_ENDPOINT"), os.Getenv("ECSFLOW_API_URL"), client.DefaultEndpoint)
	root.PersistentFlags().StringVar(&g.endpoint, "endpoint", def, "ecsflow API endpoint (env ECSFLOW_ENDPOINT or ECSFLOW_API_URL); non-loopback endpoints are SigV4-signed")
	root.PersistentFlags().StringVarP(&g.output, "output", "o", "text", "output format: text or json")
}

// addAPICommands registers every API command on root (rootCmd, or a fresh
// root in tests).
func addAPICommands(root *cobra.Command, g *apiFlags) {
	root.AddCommand(newApplyCmd(g), newDeployCmd(g), newStatusCmd(g), newHistoryCmd(g),
		newGetCmd(g), newListCmd(g), newPushCmd(g), newPipelineCmd(g))
	for _, a := range append(append([]string{}, approvalActions...), recoveryActions...) {
		root.AddCommand(newControlCmd(g, a))
	}
}

func (g *apiFlags) client(ctx context.Context) (*client.Client, error) {
	return client.New(ctx, g.endpoint, client.Options{})
}

// session checks -o and builds the API client, as every API command does first.
func (g *apiFlags) session(ctx context.Context) (*client.Client, bool, error) {
	asJSON, err := g.json()
	if err != nil {
		return nil, false, err
	}
	c, err := g.client(ctx)
	return c, asJSON, err
}

func (g *apiFlags) json() (bool, error) {
	switch g.output {
	case "json":
		return true, nil
	case "text", "":
		return false, nil
	}
	return false, fmt.Errorf("-o %q: want text or json", g.output)
}

// isTTY reports whether w is a terminal (progress bars) or not (plain lines).
func (g *apiFlags) isTTY(w io.Writer) bool {
	if g.tty != nil {
		return *g.tty
	}
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// writeResult writes v as JSON (asJSON) or, otherwise, with text, then
// answers verdict: the command's error, nil unless what it shows ended
// without success.
func writeResult(w io.Writer, asJSON bool, v any, text func(), verdict error) error {
	if asJSON {
		if err := writeJSON(w, v); err != nil {
			return err
		}
	} else {
		text()
	}
	return verdict
}

// writeJSONList writes xs as JSON, an empty list as [] (never null).
func writeJSONList[T any](w io.Writer, xs []T) error {
	if xs == nil {
		xs = []T{}
	}
	return writeJSON(w, xs)
}

// findByName finds an entity of kind in scope by name or ID.
func findByName(ctx context.Context, c *client.Client, kind model.Kind, s client.Scope, nameOrID string) (model.Entity, error) {
	es, err := c.List(ctx, kind, s)
	if err != nil {
		return nil, err
	}
	for _, e := range es {
		n := e.EntityName()
		if inf, ok := e.(*model.InfrastructureDefinition); ok {
			n = inf.Name
		}
		if n == nameOrID || e.GetMeta().ID == nameOrID {
			return e, nil
		}
	}
	return nil, fmt.Errorf("no %s named %q", kind, nameOrID)
}

// target is an <app>/<service> argument resolved, with an environment.
type target struct {
	app *model.Application
	svc *model.Service
	env *model.Environment
}

func resolveTarget(ctx context.Context, c *client.Client, appSvc, env string) (*target, error) {
	appName, svcName, ok := strings.Cut(appSvc, "/")
	if !ok || appName == "" || svcName == "" {
		return nil, fmt.Errorf("%q: want <application>/<service>", appSvc)
	}
	if env == "" {
		return nil, fmt.Errorf("--env is required")
	}
	a, err := findByName(ctx, c, model.KindApplication, client.Scope{}, appName)
	if err != nil {
		return nil, err
	}
	s := client.Scope{AppID: a.GetMeta().ID}
	sv, err := findByName(ctx, c, model.KindService, s, svcName)
	if err != nil {
		return nil, fmt.Errorf("application %s: %w", appName, err)
	}
	e, err := findByName(ctx, c, model.KindEnvironment, s, env)
	if err != nil {
		return nil, fmt.Errorf("application %s: %w", appName, err)
	}
	return &target{app: a.(*model.Application), svc: sv.(*model.Service), env: e.(*model.Environment)}, nil
}
