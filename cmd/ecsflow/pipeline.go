package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/ecsflow/ecsflow/internal/client"
	"github.com/ecsflow/ecsflow/internal/model"
)

func newPipelineCmd(g *apiFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "pipeline",
		Short: "Start, follow, list, approve and reject pipeline executions",
	}
	var image, service string
	var watch bool
	var vars []string
	start := &cobra.Command{
		Use:   "start <app>/<pipeline> --image <tag|uri> [--service <name>] [--watch]",
		Short: "Start a pipeline with an image",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			c, asJSON, err := g.session(ctx)
			if err != nil {
				return err
			}
			app, pl, err := resolvePipeline(ctx, c, args[0])
			if err != nil {
				return err
			}
			art, err := parseImage(image)
			if err != nil {
				return err
			}
			req := client.PipelineRequest{Artifact: art}
			if req.Variables, err = parseVars(vars); err != nil {
				return err
			}
			if service != "" {
				s, err := findByName(ctx, c, model.KindService, client.Scope{AppID: app.ID}, service)
				if err != nil {
					return err
				}
				req.ServiceID = s.GetMeta().ID
			}
			x, err := c.StartPipeline(ctx, pl.ID, req)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if watch {
				if !asJSON {
					fmt.Fprintf(out, "pipeline execution %s: %s of %s\n", x.ID, pl.Name, x.Artifact.Reference())
				}
				return watchPipeline(ctx, g, c, x.ID, out)
			}
			if asJSON {
				return writeJSON(out, x)
			}
			fmt.Fprintf(out, "pipeline execution %s %s: %s of %s\n", x.ID, x.Status, pl.Name, x.Artifact.Reference())
			return nil
		},
	}
	start.Flags().StringVar(&image, "image", "", "image tag, digest or URI (required)")
	start.Flags().StringVar(&service, "service", "", "service for workflow stages that do not fix one")
	start.Flags().BoolVar(&watch, "watch", false, "follow the execution to its end")
	start.Flags().StringArrayVar(&vars, "var", nil, "pipeline variable NAME=VALUE (repeatable): ${workflow.variables.NAME} in the services' container definitions")

	var statusWatch bool
	status := &cobra.Command{
		Use:   "status <execution-id> [--watch]",
		Short: "Show a pipeline execution's stages; --watch follows it to its end (non-zero exit unless it succeeded)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			c, asJSON, err := g.session(ctx)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if statusWatch {
				return watchPipeline(ctx, g, c, args[0], out)
			}
			x, err := c.PipelineExecution(ctx, args[0])
			if err != nil {
				return err
			}
			return writeResult(out, asJSON, x, func() { writePipeline(out, x) }, pipelineOutcome(x))
		},
	}
	status.Flags().BoolVar(&statusWatch, "watch", false, "follow the execution to its end")

	list := &cobra.Command{
		Use:   "list <app>/<pipeline>",
		Short: "List a pipeline's executions, newest first",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			c, asJSON, err := g.session(ctx)
			if err != nil {
				return err
			}
			_, pl, err := resolvePipeline(ctx, c, args[0])
			if err != nil {
				return err
			}
			xs, err := c.PipelineExecutions(ctx, pl.ID)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				return writeJSONList(out, xs)
			}
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tSTATUS\tARTIFACT\tTRIGGERED BY\tCREATED")
			for _, x := range xs {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", x.ID, x.Status, x.Artifact.Reference(), x.TriggeredBy.Kind, x.CreatedAt.UTC().Format(time.RFC3339))
			}
			return tw.Flush()
		},
	}
	cmd.AddCommand(start, status, list)
	for _, a := range approvalActions {
		cmd.AddCommand(newPipelineControlCmd(g, a))
	}
	cmd.AddCommand(newPipelineAbortCmd(g))
	return cmd
}

func newPipelineAbortCmd(g *apiFlags) *cobra.Command {
	var comment string
	cmd := &cobra.Command{
		Use: "abort <execution-id> [--comment text]",
		Short: "Abort a pipeline execution: its running stage's deployment is aborted, a waiting approval or wait ends, " +
			"and the execution ends ABORTED",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			c, asJSON, err := g.session(ctx)
			if err != nil {
				return err
			}
			var body any
			if comment != "" {
				body = map[string]string{"comment": comment}
			}
			var x model.PipelineExecution
			if _, err := c.DoJSON(ctx, http.MethodPost, "/v1/pipeline-executions/"+url.PathEscape(args[0])+"/abort", body, nil, &x); err != nil {
				return err
			}
			if asJSON {
				return writeJSON(cmd.OutOrStdout(), &x)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "abort accepted: pipeline execution %s is %s\n", x.ID, x.Status)
			return nil
		},
	}
	cmd.Flags().StringVar(&comment, "comment", "", "why, recorded with the abort")
	return cmd
}

// parseVars turns NAME=VALUE flags into pipeline variables.
func parseVars(pairs []string) (map[string]string, error) {
	if len(pairs) == 0 {
		return nil, nil
	}
	vars := make(map[string]string, len(pairs))
	for _, p := range pairs {
		name, value, ok := strings.Cut(p, "=")
		if !ok || name == "" {
			return nil, fmt.Errorf("--var %q: want NAME=VALUE", p)
		}
		if _, dup := vars[name]; dup {
			return nil, fmt.Errorf("--var %s is given twice", name)
		}
		vars[name] = value
	}
	return vars, nil
}

func newPipelineControlCmd(g *apiFlags, action string) *cobra.Command {
	var comment string
	cmd := &cobra.Command{
		Use:   action + " <execution-id> [--comment text]",
		Short: strings.ToUpper(action[:1]) + action[1:] + " a pipeline execution waiting at an approval stage",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return controlPipeline(cmd, g, args[0], action, comment)
		},
	}
	cmd.Flags().StringVar(&comment, "comment", "", "comment recorded with the decision")
	return cmd
}

func controlPipeline(cmd *cobra.Command, g *apiFlags, id, action, comment string) error {
	ctx := cmd.Context()
	c, asJSON, err := g.session(ctx)
	if err != nil {
		return err
	}
	x, err := c.ControlPipeline(ctx, id, action, comment)
	if err != nil {
		return err
	}
	if asJSON {
		return writeJSON(cmd.OutOrStdout(), x)
	}
	fmt.Fprintf(cmd.OutOrStdout(), "%s accepted: pipeline execution %s is %s\n", action, x.ID, x.Status)
	return nil
}

func resolvePipeline(ctx context.Context, c *client.Client, appPipeline string) (*model.Application, *model.Pipeline, error) {
	appName, plName, ok := strings.Cut(appPipeline, "/")
	if !ok || appName == "" || plName == "" {
		return nil, nil, fmt.Errorf("%q: want <application>/<pipeline>", appPipeline)
	}
	a, err := findByName(ctx, c, model.KindApplication, client.Scope{}, appName)
	if err != nil {
		return nil, nil, err
	}
	p, err := findByName(ctx, c, model.KindPipeline, client.Scope{AppID: a.GetMeta().ID}, plName)
	if err != nil {
		return nil, nil, fmt.Errorf("application %s: %w", appName, err)
	}
	return a.(*model.Application), p.(*model.Pipeline), nil
}

func pipelineOutcome(x *model.PipelineExecution) error {
	if !x.Status.Final() || x.Status == model.PipelineSucceeded {
		return nil
	}
	msg := fmt.Sprintf("pipeline execution %s ended %s", x.ID, x.Status)
	if x.FailedStage != "" {
		msg += " at stage " + x.FailedStage
	}
	if x.Reason != "" {
		msg += ": " + x.Reason
	}
	return fmt.Errorf("%s", msg)
}

// stageLine describes one stage.
func stageLine(s model.StageRecord) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-16s %-9s %s", s.Name, s.Type, s.Status)
	if s.DeploymentID != "" {
		fmt.Fprintf(&b, "  deployment %s", s.DeploymentID)
		if s.DeploymentStatus != "" {
			fmt.Fprintf(&b, " %s", s.DeploymentStatus)
		}
	}
	for _, a := range s.Approvals {
		verdict := "rejected"
		if a.Approved {
			verdict = "approved"
		}
		fmt.Fprintf(&b, "  %s by %s", verdict, a.Principal)
		if a.Comment != "" {
			fmt.Fprintf(&b, " (%s)", a.Comment)
		}
	}
	if s.Error != "" {
		fmt.Fprintf(&b, "  %s: %s", s.Error, s.Cause)
	}
	return b.String()
}

func writePipeline(w io.Writer, x *model.PipelineExecution) {
	fmt.Fprintf(w, "pipeline execution %s  %s  %s of %s\n", x.ID, x.Status, x.PipelineName, x.Artifact.Reference())
	for _, s := range x.Stages {
		fmt.Fprintf(w, "  %s\n", stageLine(s))
	}
	if x.Reason != "" {
		fmt.Fprintf(w, "reason: %s\n", x.Reason)
	}
}

// watchPipeline follows an execution to its end: one timestamped line per
// stage change, and the running workflow stage's deployment summary.
func watchPipeline(ctx context.Context, g *apiFlags, c *client.Client, id string, w io.Writer) error {
	asJSON, err := g.json()
	if err != nil {
		return err
	}
	if !asJSON && g.isTTY(w) {
		return watchPipelineBars(ctx, c, id, w) // progress bars (pipeline_bars.go)
	}
	last := map[string]string{}
	lastDep := ""
	for {
		x, err := c.PipelineExecution(ctx, id)
		if err != nil {
			return err
		}
		if !asJSON {
			at := x.UpdatedAt.UTC().Format(time.RFC3339)
			for _, s := range x.Stages {
				line := stageLine(s)
				if last[s.Name] != line {
					last[s.Name] = line
					fmt.Fprintf(w, "%s  STAGE        %s\n", at, line)
					if s.Status == model.PipelineWaitingApproval {
						fmt.Fprintf(w, "%s  APPROVAL     waiting: ecsflow approve %s (or reject)\n", at, x.ID)
					}
				}
				if s.Status == model.PipelineRunning && s.DeploymentID != "" {
					if d, err := c.Deployment(ctx, s.DeploymentID); err == nil {
						sum := summary(d, progressOf(d))
						if sum != lastDep {
							lastDep = sum
							fmt.Fprintf(w, "%s  DEPLOYMENT   %s %s  elapsed %s\n", asOf(d).UTC().Format(time.RFC3339), s.Name, sum, elapsed(&d.Deployment, asOf(d)))
						}
					}
				}
			}
		}
		if x.Status.Final() {
			return writeResult(w, asJSON, x, func() { fmt.Fprintf(w, "pipeline execution %s %s\n", x.ID, x.Status) }, pipelineOutcome(x))
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("watch pipeline execution %s: %w", id, ctx.Err())
		case <-time.After(pollInterval):
		}
	}
}
