package main

import (
	"github.com/spf13/cobra"

	"github.com/ecsflow/ecsflow/internal/model"
)

func newGetCmd(g *apiFlags) *cobra.Command {
	var sf scopeFlags
	cmd := &cobra.Command{
		Use:   "get <kind> <name-or-id> [--app <app>] [--env <env>]",
		Short: "Show one entity (as JSON), or a deployment's status",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			asJSON, err := g.json()
			if err != nil {
				return err
			}
			kind, err := parseKind(args[0])
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			c, err := g.client(ctx)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if kind == model.KindDeployment {
				d, err := c.Deployment(ctx, args[1])
				if err != nil {
					return err
				}
				if asJSON {
					return writeJSON(out, d)
				}
				writeStatus(out, d, asOf(d))
				return nil
			}
			s, err := sf.resolve(ctx, c, kind)
			if err != nil {
				return err
			}
			e, err := findByName(ctx, c, kind, s, args[1])
			if err != nil {
				return err
			}
			// An entity's text form is its JSON: every field matters.
			return writeJSON(out, e)
		},
	}
	sf.add(cmd)
	return cmd
}
