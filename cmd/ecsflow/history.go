package main

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/ecsflow/ecsflow/internal/client"
	"github.com/ecsflow/ecsflow/internal/model"
)

func newHistoryCmd(g *apiFlags) *cobra.Command {
	var env string
	var limit int
	cmd := &cobra.Command{
		Use:   "history <app>/<service> --env <env>",
		Short: "List a service's deployments in an environment, newest first",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			c, asJSON, err := g.session(ctx)
			if err != nil {
				return err
			}
			t, err := resolveTarget(ctx, c, args[0], env)
			if err != nil {
				return err
			}
			ds, err := c.Deployments(ctx, client.DeploymentFilter{ServiceID: t.svc.ID, EnvID: t.env.ID, Limit: limit})
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSONList(cmd.OutOrStdout(), ds)
			}
			writeDeployments(cmd.OutOrStdout(), ds)
			return nil
		},
	}
	cmd.Flags().StringVar(&env, "env", "", "environment name (required)")
	cmd.Flags().IntVar(&limit, "limit", 20, "how many deployments (1-100)")
	return cmd
}

// writeDeployments prints a table of deployments.
func writeDeployments(w io.Writer, ds []*model.Deployment) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATUS\tSTRATEGY\tARTIFACT\tCREATED\tDURATION\tREASON")
	for _, d := range ds {
		dur := "-"
		if d.EndedAt != nil {
			dur = elapsed(d, time.Time{}).String()
		}
		art := d.Artifact.Tag
		if art == "" {
			art = d.Artifact.Digest
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", d.ID, d.Status, d.Strategy, art,
			d.CreatedAt.UTC().Format(time.RFC3339), dur, d.Reason)
	}
	_ = tw.Flush()
}
