package main

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ecsflow/ecsflow/internal/client"
)

// defaultAWSEndpoint is where `ecsflow local` serves the AWS emulator.
const defaultAWSEndpoint = "http://127.0.0.1:4566"

// emulatorClient talks to the AWS emulator's /_emulator/ control API. It
// refuses anything but a loopback endpoint: the emulator is local only.
func emulatorClient(ctx context.Context, endpoint string) (*client.Client, error) {
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("--aws-endpoint %q is not a URL", endpoint)
	}
	if !client.IsLoopback(u) {
		return nil, fmt.Errorf("--aws-endpoint %s: the emulator is local only (loopback)", endpoint)
	}
	return client.New(ctx, endpoint, client.Options{})
}

func awsEndpointFlag(cmd *cobra.Command, v *string) {
	// AWS_ENDPOINT_URL is what `ecsflow local` exports for the SDKs.
	def := cmp.Or(os.Getenv("ECSFLOW_AWS_ENDPOINT"), os.Getenv("AWS_ENDPOINT_URL"), defaultAWSEndpoint)
	cmd.Flags().StringVar(v, "aws-endpoint", def, "the local AWS emulator (env ECSFLOW_AWS_ENDPOINT or AWS_ENDPOINT_URL)")
}

func newPushCmd(g *apiFlags) *cobra.Command {
	var awsEndpoint string
	cmd := &cobra.Command{
		Use:   "push <repository>:<tag>",
		Short: "Simulate an ECR push on the local emulator (starts matching triggers)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			asJSON, err := g.json()
			if err != nil {
				return err
			}
			repo, tag, ok := strings.Cut(args[0], ":")
			if !ok || repo == "" || tag == "" {
				return fmt.Errorf("%q: want <repository>:<tag>", args[0])
			}
			ctx := cmd.Context()
			c, err := emulatorClient(ctx, awsEndpoint)
			if err != nil {
				return err
			}
			var got struct {
				Repository string `json:"repository"`
				Tag        string `json:"tag"`
				Digest     string `json:"digest"`
				ImageURI   string `json:"imageUri"`
			}
			r, err := c.DoJSON(ctx, http.MethodPost, "/_emulator/ecr/push", map[string]string{"repository": repo, "tag": tag}, nil, &got)
			if err != nil {
				return err
			}
			if asJSON {
				_, err := cmd.OutOrStdout().Write(append(json.RawMessage(r.Body), '\n'))
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "pushed %s (%s)\n", got.ImageURI, got.Digest)
			return nil
		},
	}
	awsEndpointFlag(cmd, &awsEndpoint)
	return cmd
}
