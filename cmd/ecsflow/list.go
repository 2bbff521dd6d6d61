package main

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/ecsflow/ecsflow/internal/client"
	"github.com/ecsflow/ecsflow/internal/model"
)

// kindNames maps what a user types to a kind.
var kindNames = map[string]model.Kind{
	"application": model.KindApplication, "app": model.KindApplication,
	"service": model.KindService, "svc": model.KindService,
	"environment": model.KindEnvironment, "env": model.KindEnvironment,
	"infrastructure": model.KindInfrastructure, "infra": model.KindInfrastructure,
	"workflow": model.KindWorkflow, "wf": model.KindWorkflow,
	"pipeline": model.KindPipeline, "trigger": model.KindTrigger,
	"cloud-provider": model.KindCloudProvider, "artifact-server": model.KindArtifactServer,
	"deployment": model.KindDeployment, "dep": model.KindDeployment,
}

func parseKind(s string) (model.Kind, error) {
	s = strings.ToLower(s)
	if k, ok := kindNames[s]; ok {
		return k, nil
	}
	if k, ok := kindNames[strings.TrimSuffix(s, "s")]; ok {
		return k, nil
	}
	names := make([]string, 0, len(kindNames))
	for n := range kindNames {
		names = append(names, n)
	}
	sort.Strings(names)
	return "", fmt.Errorf("unknown kind %q (want one of %s)", s, strings.Join(names, ", "))
}

// scopeFlags are --app and --env, by name or ID.
type scopeFlags struct{ app, env string }

func (f *scopeFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.app, "app", "", "application name or ID (for application-level kinds)")
	cmd.Flags().StringVar(&f.env, "env", "", "environment name or ID (for infrastructures)")
}

func (f *scopeFlags) resolve(ctx context.Context, c *client.Client, kind model.Kind) (client.Scope, error) {
	var s client.Scope
	switch kind {
	case model.KindApplication, model.KindCloudProvider, model.KindArtifactServer:
		return s, nil
	}
	if f.app == "" {
		return s, fmt.Errorf("%s needs --app", kind)
	}
	a, err := findByName(ctx, c, model.KindApplication, client.Scope{}, f.app)
	if err != nil {
		return s, err
	}
	s.AppID = a.GetMeta().ID
	if kind == model.KindInfrastructure || (kind == model.KindDeployment && f.env != "") {
		if f.env == "" {
			return s, fmt.Errorf("%s needs --env", kind)
		}
		e, err := findByName(ctx, c, model.KindEnvironment, s, f.env)
		if err != nil {
			return s, err
		}
		s.EnvID = e.GetMeta().ID
	}
	return s, nil
}

func newListCmd(g *apiFlags) *cobra.Command {
	var sf scopeFlags
	cmd := &cobra.Command{
		Use:   "list <kind> [--app <app>] [--env <env>]",
		Short: "List entities of a kind (applications, services, environments, infrastructures, workflows, pipelines, triggers, cloud-providers, artifact-servers, deployments)",
		Args:  cobra.ExactArgs(1),
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
			s, err := sf.resolve(ctx, c, kind)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if kind == model.KindDeployment {
				ds, err := c.Deployments(ctx, client.DeploymentFilter{AppID: s.AppID})
				if err != nil {
					return err
				}
				if asJSON {
					return writeJSONList(out, ds)
				}
				writeDeployments(out, ds)
				return nil
			}
			es, err := c.List(ctx, kind, s)
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSONList(out, es)
			}
			writeEntities(out, es)
			return nil
		},
	}
	sf.add(cmd)
	return cmd
}

// describe is a short summary column for an entity.
func describe(e model.Entity) string {
	switch t := e.(type) {
	case *model.Service:
		return t.Artifact.Repository + " " + string(t.ECS.SchedulingStrategy)
	case *model.Environment:
		return string(t.Type)
	case *model.InfrastructureDefinition:
		return t.Region + "/" + t.Cluster
	case *model.Workflow:
		return string(t.Strategy.Type)
	case *model.Pipeline:
		return fmt.Sprintf("%d stages", len(t.Stages))
	case *model.Trigger:
		return t.Repository + " " + t.TagFilter
	case *model.CloudProvider:
		return t.AccountID
	case *model.ArtifactServer:
		return string(t.Type)
	case *model.Application:
		return t.Description
	}
	return ""
}

func entityName(e model.Entity) string {
	if inf, ok := e.(*model.InfrastructureDefinition); ok {
		return inf.Name
	}
	return e.EntityName()
}

func writeEntities(w io.Writer, es []model.Entity) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tID\tVERSION\tSUMMARY")
	for _, e := range es {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\n", entityName(e), e.GetMeta().ID, e.GetMeta().Version, describe(e))
	}
	_ = tw.Flush()
}
