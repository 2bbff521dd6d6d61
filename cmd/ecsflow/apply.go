package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/ecsflow/ecsflow/internal/apply"
)

func newApplyCmd(g *apiFlags) *cobra.Command {
	var file string
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "apply -f ecsflow.yaml",
		Short: "Make the API match a configuration file (creates and updates; prints the plan first)",
		Long: `Apply reads one YAML file holding every entity (references by name), prints what
will be created, updated or left unchanged, and then does it. A second apply of the
same file changes nothing and says so. --dry-run stops after the plan. An invalid
file is refused with the line and field of every problem, before anything is written.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			asJSON, err := g.json()
			if err != nil {
				return err
			}
			if file == "" {
				return errors.New("-f is required")
			}
			src, err := os.ReadFile(file)
			if err != nil {
				return fmt.Errorf("read configuration: %w", err)
			}
			f, perr := apply.Parse(file, src)
			if f == nil {
				return perr
			}
			ctx := cmd.Context()
			c, err := g.client(ctx)
			if err != nil {
				return err
			}
			// Validation problems (perr) and reference problems come together.
			p, err := apply.MakePlan(ctx, c, f)
			if err := apply.Merge(perr, err); err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if !asJSON {
				p.Write(out)
			}
			if !dryRun && !p.Empty() {
				if err := apply.Apply(ctx, c, p); err != nil {
					return err
				}
			}
			if asJSON {
				return writeJSON(out, map[string]any{"dryRun": dryRun, "changes": p.Changes})
			}
			cr, up, _ := p.Counts()
			switch {
			case p.Empty():
			case dryRun:
				fmt.Fprintln(out, "Dry run: nothing was changed.")
			default:
				fmt.Fprintf(out, "Applied: %d created, %d updated.\n", cr, up)
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&file, "file", "f", "", "configuration file (YAML)")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "print the plan only")
	return cmd
}
