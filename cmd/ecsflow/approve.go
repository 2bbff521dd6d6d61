package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

// approvalActions answer a deployment waiting for approval.
var approvalActions = []string{"approve", "reject"}

// controlShort describes each deployment action.
var controlShort = map[string]string{
	"approve":  "Approve a deployment waiting for approval",
	"reject":   "Reject a deployment waiting for approval (it rolls back)",
	"rollback": "Roll a deployment back to the last known good revision",
	"abort":    "Abort a deployment where it stands",
}

// newControlCmd builds approve, reject (here) and rollback, abort (rollback.go).
func newControlCmd(g *apiFlags, action string) *cobra.Command {
	var comment string
	cmd := &cobra.Command{
		Use:   action + " <deployment-id> [--comment text]",
		Short: controlShort[action],
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			asJSON, err := g.json()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			c, err := g.client(ctx)
			if err != nil {
				return err
			}
			d, err := c.Control(ctx, args[0], action, comment)
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(cmd.OutOrStdout(), d)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s accepted: deployment %s is %s\n", action, d.ID, d.Status)
			return nil
		},
	}
	cmd.Flags().StringVar(&comment, "comment", "", "comment recorded in the deployment's ledger")
	return cmd
}
