package main

import (
	"errors"
	"fmt"
	"net/http"
	"os"

	"github.com/spf13/cobra"
)

// fault.go sorts after emulator.go, so the emulator command is registered
// by the time this init runs (Go runs a package's files' inits in file
// name order).
func init() { addFaultCmd(rootCmd, globalAPI) }

// addFaultCmd adds `emulator fault` under the emulator command (emulator.go)
// when root has one, else under root.
func addFaultCmd(root *cobra.Command, g *apiFlags) {
	parent := root
	for _, c := range root.Commands() {
		if c.Name() == "emulator" {
			parent = c
		}
	}
	parent.AddCommand(newFaultCmd(g))
}

func newFaultCmd(g *apiFlags) *cobra.Command {
	var awsEndpoint, file, plan string
	cmd := &cobra.Command{
		Use:   "fault (set -f plan.json | set --plan '{...}' | show | clear)",
		Short: "Inject a fault plan into the local emulator (crashing images, failing health checks, alarms, throttling)",
		Long: `A fault plan is JSON: {"seed":1,"rules":[...]} where each rule is one of
  {"image":"*web:v1.0.1-broken","behavior":"crash","afterSeconds":20}
  {"api":"ecs:DescribeServices","throttleRate":0.5}
  {"alarm":"prod-web-5xx","state":"ALARM","atSeconds":60}
set replaces the plan, show prints it, clear removes it.`,
		Args:      cobra.ExactArgs(1),
		ValidArgs: []string{"set", "show", "clear"},
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			c, err := emulatorClient(ctx, awsEndpoint)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			switch args[0] {
			case "set":
				body := []byte(plan)
				if file != "" {
					if body, err = os.ReadFile(file); err != nil {
						return fmt.Errorf("read fault plan: %w", err)
					}
				}
				if len(body) == 0 {
					return errors.New("fault set needs -f <file> or --plan <json>")
				}
				var got struct {
					Rules int   `json:"rules"`
					Seed  int64 `json:"seed"`
				}
				if _, err := c.DoJSON(ctx, http.MethodPost, "/_emulator/faults", rawJSON(body), nil, &got); err != nil {
					return err
				}
				fmt.Fprintf(out, "fault plan set: %d rule(s), seed %d\n", got.Rules, got.Seed)
			case "show":
				r, err := c.Do(ctx, http.MethodGet, "/_emulator/faults", nil, nil)
				if err != nil {
					return err
				}
				fmt.Fprintf(out, "%s", r.Body)
			case "clear":
				if _, err := c.Do(ctx, http.MethodDelete, "/_emulator/faults", nil, nil); err != nil {
					return err
				}
				fmt.Fprintln(out, "fault plan cleared")
			default:
				return fmt.Errorf("fault %q: want set, show or clear", args[0])
			}
			return nil
		},
	}
	awsEndpointFlag(cmd, &awsEndpoint)
	cmd.Flags().StringVarP(&file, "file", "f", "", "fault plan JSON file (set)")
	cmd.Flags().StringVar(&plan, "plan", "", "fault plan JSON (set)")
	return cmd
}

// rawJSON is a body sent as is.
type rawJSON []byte

func (r rawJSON) MarshalJSON() ([]byte, error) { return r, nil }
