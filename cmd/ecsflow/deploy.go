package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ecsflow/ecsflow/internal/client"
	"github.com/ecsflow/ecsflow/internal/model"
)

func newDeployCmd(g *apiFlags) *cobra.Command {
	var env, image, workflow string
	var watch bool
	var vars []string
	cmd := &cobra.Command{
		Use:   "deploy <app>/<service> --env <env> --image <tag|uri> [--workflow <name>] [--var NAME=VALUE]... [--watch]",
		Short: "Start a deployment of an image",
		Long: `Deploy starts the workflow that deploys the service to the environment. --image is a
tag (v1.2.3), a digest (sha256:...) or a full image URI (with a tag or @digest). Without
--workflow, the environment's one workflow for the service is used. --var NAME=VALUE
(repeatable) sets the deployment's workflow variables: ${workflow.variables.NAME} in the
service's container definitions. --watch follows it to the end, like status --watch,
and exits non-zero unless it succeeded.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			variables, err := parseVars(vars)
			if err != nil {
				return err
			}
			c, asJSON, err := g.session(ctx)
			if err != nil {
				return err
			}
			t, err := resolveTarget(ctx, c, args[0], env)
			if err != nil {
				return err
			}
			wf, err := pickWorkflow(ctx, c, t, workflow)
			if err != nil {
				return err
			}
			art, err := parseImage(image)
			if err != nil {
				return err
			}
			d, err := startDeployment(ctx, c, deployRequest{
				DeploymentRequest: client.DeploymentRequest{AppID: t.app.ID, WorkflowID: wf.ID, ServiceID: t.svc.ID, Artifact: art},
				Variables:         variables,
			})
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if !watch {
				if asJSON {
					return writeJSON(out, d)
				}
				fmt.Fprintf(out, "deployment %s %s: %s %s of %s to %s\n", d.ID, d.Status, d.Strategy, wf.Name, d.Artifact.Reference(), t.env.Name)
				return nil
			}
			if !asJSON {
				fmt.Fprintf(out, "deployment %s: %s %s of %s to %s\n", d.ID, d.Strategy, wf.Name, d.Artifact.Reference(), t.env.Name)
			}
			return watchDeployment(ctx, g, c, d.ID, out)
		},
	}
	f := cmd.Flags()
	f.StringVar(&env, "env", "", "environment name (required)")
	f.StringVar(&image, "image", "", "image tag, digest or URI (required)")
	f.StringVar(&workflow, "workflow", "", "workflow name (default: the environment's one workflow for the service)")
	f.StringArrayVar(&vars, "var", nil, "workflow variable NAME=VALUE (repeatable): ${workflow.variables.NAME} in the service's container definitions")
	f.BoolVar(&watch, "watch", false, "follow the deployment to its end")
	return cmd
}

// deployRequest is POST /v1/deployments with the deployment's variables
// (client.DeploymentRequest has no field for them yet).
type deployRequest struct {
	client.DeploymentRequest
	Variables map[string]string `json:"variables,omitempty"`
}

// startDeployment is client.StartDeployment for a deployRequest.
func startDeployment(ctx context.Context, c *client.Client, req deployRequest) (*model.Deployment, error) {
	var d model.Deployment
	if _, err := c.DoJSON(ctx, http.MethodPost, "/v1/deployments", req, nil, &d); err != nil {
		return nil, err
	}
	return &d, nil
}

// pickWorkflow finds the named workflow, or the only one in the environment
// that can deploy the service.
func pickWorkflow(ctx context.Context, c *client.Client, t *target, name string) (*model.Workflow, error) {
	es, err := c.List(ctx, model.KindWorkflow, client.Scope{AppID: t.app.ID})
	if err != nil {
		return nil, err
	}
	var cands []*model.Workflow
	for _, e := range es {
		w := e.(*model.Workflow)
		if name != "" {
			if w.Name == name || w.ID == name {
				return w, nil
			}
			continue
		}
		if w.EnvironmentID == t.env.ID && (w.ServiceID == "" || w.ServiceID == t.svc.ID) {
			cands = append(cands, w)
		}
	}
	if name != "" {
		return nil, fmt.Errorf("application %s has no workflow named %q", t.app.Name, name)
	}
	switch len(cands) {
	case 0:
		return nil, fmt.Errorf("application %s has no workflow for service %s in environment %s", t.app.Name, t.svc.Name, t.env.Name)
	case 1:
		return cands[0], nil
	}
	names := make([]string, len(cands))
	for i, w := range cands {
		names[i] = w.Name
	}
	return nil, fmt.Errorf("several workflows deploy %s to %s (%s): choose one with --workflow", t.svc.Name, t.env.Name, strings.Join(names, ", "))
}

// parseImage reads --image: a tag, a digest, or an URI with a tag or digest.
func parseImage(s string) (client.ArtifactRequest, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return client.ArtifactRequest{}, fmt.Errorf("--image is required")
	}
	if strings.HasPrefix(s, "sha256:") {
		return client.ArtifactRequest{Digest: s}, nil
	}
	if !strings.Contains(s, "/") {
		return client.ArtifactRequest{Tag: s}, nil
	}
	if img, dig, ok := strings.Cut(s, "@"); ok {
		return client.ArtifactRequest{Image: img, Digest: dig}, nil
	}
	slash := strings.LastIndex(s, "/")
	if colon := strings.LastIndex(s, ":"); colon > slash {
		return client.ArtifactRequest{Image: s[:colon], Tag: s[colon+1:]}, nil
	}
	return client.ArtifactRequest{}, fmt.Errorf("--image %q: an image URI needs a :tag or @digest", s)
}
