package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ecsflow/ecsflow/internal/client"
	"github.com/ecsflow/ecsflow/internal/pipeline"
	"github.com/ecsflow/ecsflow/internal/steps"
)

func init() {
	rootCmd.AddCommand(newEventsCmd(globalAPI))
}

// eventsPollSeconds is how long one --follow request waits for an event.
const eventsPollSeconds = 20

func newEventsCmd(g *apiFlags) *cobra.Command {
	var follow bool
	var id string
	var after int64
	cmd := &cobra.Command{
		Use:   "events [--follow] [--id <deployment|pipeline-execution id>] [--after <seq>]",
		Short: "Show ecsflow's deployment and pipeline notifications (ecsflow local only)",
		Long: "Show the \"ecsflow Deployment Status\" and \"ecsflow Pipeline Status\" events that\n" +
			"`ecsflow local` delivered on its local bus, oldest first: deployment STARTED,\n" +
			"APPROVAL_NEEDED, SUCCEEDED, FAILED, ROLLED_BACK, ABORTED, and the pipelines' own.\n" +
			"--follow keeps waiting for new ones; --id keeps a deployment's, or a pipeline\n" +
			"execution's and its deployments'. On AWS, subscribe to the bus (the SNS topic) instead.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			c, asJSON, err := g.session(ctx)
			if err != nil {
				return err
			}
			return streamEvents(ctx, c, cmd.OutOrStdout(), eventsQuery{after: after, follow: follow, id: id, json: asJSON})
		},
	}
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "keep waiting for new events (Ctrl-C ends)")
	cmd.Flags().StringVar(&id, "id", "", "only events of this deployment, or of this pipeline execution and its deployments")
	cmd.Flags().Int64Var(&after, "after", 0, "only events after this sequence number")
	return cmd
}

type eventsQuery struct {
	after  int64
	follow bool
	id     string
	json   bool
}

// streamEvents prints the events after q.after, then (with follow) the new
// ones as they arrive, until ctx ends.
func streamEvents(ctx context.Context, c *client.Client, w io.Writer, q eventsQuery) error {
	after := q.after
	for {
		path := steps.NotificationLogPath + "?after=" + strconv.FormatInt(after, 10)
		if q.follow {
			path += "&waitSeconds=" + strconv.Itoa(eventsPollSeconds)
		}
		var page steps.EventsPage
		_, err := c.DoJSON(ctx, http.MethodGet, path, nil, nil, &page)
		var ae *client.Error
		switch {
		case err != nil && ctx.Err() != nil:
			return nil // interrupted while following
		case errors.As(err, &ae) && ae.Status == http.StatusNotFound:
			return fmt.Errorf("this endpoint keeps no events (%s is served by `ecsflow local` only; on AWS subscribe to the event bus)", steps.NotificationLogPath)
		case err != nil:
			return err
		}
		for _, ev := range page.Events {
			if q.id != "" && !eventConcerns(ev, q.id) {
				continue
			}
			if err := writeEvent(w, ev, q.json); err != nil {
				return err
			}
		}
		after = max(after, page.Next)
		if !q.follow {
			return nil
		}
		if ctx.Err() != nil {
			return nil
		}
	}
}

// eventDetail is what the CLI reads of either notification's detail.
type eventDetail struct {
	Status              string `json:"status"`
	DeploymentID        string `json:"deploymentId"`
	PipelineExecutionID string `json:"pipelineExecutionId"`
	PipelineName        string `json:"pipelineName"`
	Strategy            string `json:"strategy"`
	Stage               string `json:"stage"`
	FailedStage         string `json:"failedStage"`
	Reason              string `json:"reason"`
	Artifact            struct {
		Image  string `json:"image"`
		Tag    string `json:"tag"`
		Digest string `json:"digest"`
	} `json:"artifact"`
}

func eventConcerns(ev steps.LoggedEvent, id string) bool {
	var d eventDetail
	if json.Unmarshal(ev.Detail, &d) != nil {
		return false
	}
	return d.DeploymentID == id || d.PipelineExecutionID == id
}

func writeEvent(w io.Writer, ev steps.LoggedEvent, asJSON bool) error {
	if asJSON {
		b, err := json.Marshal(ev)
		if err != nil {
			return fmt.Errorf("encode event %d: %w", ev.Seq, err)
		}
		_, err = fmt.Fprintf(w, "%s\n", b)
		return err
	}
	var d eventDetail
	_ = json.Unmarshal(ev.Detail, &d)
	kind, subject := "EVENT", ""
	var extra []string
	switch ev.DetailType {
	case steps.DetailTypeDeployment:
		kind, subject = "DEPLOYMENT", d.DeploymentID
		extra = append(extra, d.Strategy)
		if d.PipelineExecutionID != "" {
			extra = append(extra, "pipeline "+d.PipelineExecutionID)
		}
	case pipeline.DetailTypePipeline:
		kind, subject = "PIPELINE", d.PipelineExecutionID
		extra = append(extra, d.PipelineName)
		if d.Stage != "" {
			extra = append(extra, "stage "+d.Stage)
		}
		if d.FailedStage != "" {
			extra = append(extra, "failed stage "+d.FailedStage)
		}
	default:
		subject = ev.DetailType
	}
	if art := artifactText(d.Artifact.Image, d.Artifact.Tag, d.Artifact.Digest); art != "" {
		extra = append(extra, art)
	}
	if d.Reason != "" {
		extra = append(extra, "("+d.Reason+")")
	}
	var kept []string
	for _, e := range extra {
		if e != "" {
			kept = append(kept, e)
		}
	}
	_, err := fmt.Fprintf(w, "%5d  %s  %-10s  %-15s  %s  %s\n", ev.Seq, ev.Time.UTC().Format(time.RFC3339), kind, d.Status, subject,
		strings.Join(kept, " "))
	return err
}

func artifactText(image, tag, digest string) string {
	switch {
	case image != "" && tag != "":
		return image + ":" + tag
	case image != "" && digest != "":
		return image + "@" + digest
	case tag != "":
		return tag
	}
	return image
}
