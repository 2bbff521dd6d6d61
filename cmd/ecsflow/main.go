// Command ecsflow is the ecsflow CLI: it runs the local stack and the AWS
// emulator, and talks to the ecsflow API. Each subcommand lives in its own
// file and registers itself on rootCmd in an init function.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

var rootCmd = &cobra.Command{
	Use:           "ecsflow",
	Short:         "Continuous delivery for Amazon ECS, serverless and in your own account",
	SilenceUsage:  true,
	SilenceErrors: true,
}

func main() {
	if err := rootCmd.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "ecsflow:", err)
		os.Exit(1)
	}
}
