package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ecsflow/ecsflow/internal/client"
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
	"rollback": "Roll a deployment back to the last known good revision (in place while it runs; by a new deployment once it has succeeded)",
	"abort":    "Abort a deployment where it stands",
}

// newControlCmd builds approve, reject (here) and rollback, abort (rollback.go).
func newControlCmd(g *apiFlags, action string) *cobra.Command {
	var comment string
	var wait time.Duration
	var follow bool
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
			ctx := cmd.Context()
			c, asJSON, err := g.session(ctx)
			if err != nil {
				return err
			}
			d, err := c.Control(ctx, args[0], action, comment)
			for deadline := time.Now().Add(wait); err != nil && retryable(err) && time.Now().Before(deadline); {
				select {
				case <-ctx.Done():
					return err
				case <-time.After(retryInterval):
				}
				d, err = c.Control(ctx, args[0], action, comment)
			}
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			// A rollback of a deployment that ended SUCCEEDED is answered
			// 202 with a new deployment, which redeploys the last known
			// good revision; any other answer is the deployment itself.
			redeploy := action == "rollback" && d.ID != args[0]
			if follow {
				if redeploy && !asJSON {
					fmt.Fprintf(out, "rolled back by redeploying %s: deployment %s (%s)\n", d.Artifact.Reference(), d.ID, d.Status)
				}
				return followRollback(ctx, g, c, d.ID, redeploy, out)
			}
			switch {
			case asJSON:
				return writeJSON(out, d)
			case redeploy:
				fmt.Fprintf(out, "rolled back by redeploying %s: deployment %s (%s); follow it with ecsflow status %s --watch\n",
					d.Artifact.Reference(), d.ID, d.Status, d.ID)
			default:
				fmt.Fprintf(out, "%s accepted: deployment %s is %s\n", action, d.ID, d.Status)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&comment, "comment", "", "comment recorded in the deployment's ledger")
	cmd.Flags().DurationVar(&wait, "wait", 30*time.Second, "keep retrying while the API answers that a step is running (409 ... retry)")
	if action == "rollback" {
		cmd.Flags().BoolVar(&follow, "watch", false, "follow the rollback to its end, as status --watch: the new deployment when a "+
			"deployment that ended SUCCEEDED is rolled back by redeploying (exit non-zero unless it succeeds), else the "+
			"deployment rolled back in place (exit non-zero unless it ends ROLLED_BACK)")
	}
	return cmd
}

// followRollback watches the deployment a rollback answered with to its
// end (watchDeployment). A redeploy must succeed; a deployment rolled back
// in place must end ROLLED_BACK, which status --watch reports as an error.
func followRollback(ctx context.Context, g *apiFlags, c *client.Client, id string, redeploy bool, w io.Writer) error {
	err := watchDeployment(ctx, g, c, id, w)
	if err == nil || redeploy || ctx.Err() != nil {
		return err
	}
	d, gerr := c.Deployment(ctx, id)
	if gerr == nil && d.Status == model.StatusRolledBack {
		return nil
	}
	return err
}

// retryInterval is how often a control action is retried.
var retryInterval = time.Second

// retryable reports whether the API refused an action only for now: a 409
// whose message says to retry (a step is running and cannot be
// interrupted).
func retryable(err error) bool {
	var ce *client.Error
	return errors.As(err, &ce) && ce.Status == http.StatusConflict && strings.Contains(ce.Message, "retry")
}
