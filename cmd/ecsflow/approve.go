package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/ecsflow/ecsflow/internal/model"
)

// kindOf is the kind an ID names, or "".
func kindOf(id string) model.Kind {
	k, _ := model.KindOfID(id)
	return k
}

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
		Use:   action + " <deployment-id|pipeline-execution-id> [--comment text]",
		Short: controlShort[action],
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if model.KindPipelineExecution == kindOf(args[0]) {
				if action != "approve" && action != "reject" {
					return fmt.Errorf("%s: pipeline executions can only be approved or rejected", action)
				}
				return controlPipeline(cmd, g, args[0], action, comment)
			}
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
