// Package awsenv builds the aws.Config a Lambda's SDK clients use from the
// process environment, without github.com/aws/aws-sdk-go-v2/config.
//
// That package resolves shared config files, SSO, web identity, IMDS and
// more; importing it links the SSO, SSO OIDC and sign-in clients (and
// their schema tables, initialised at start) into every binary: about
// 1.6 MB of each Lambda for sources a Lambda never has. A Lambda's
// configuration is all in its environment, and this package reads the
// variables the SDK's own loader reads from there, with the same meaning:
//
//   - region: AWS_REGION, else AWS_DEFAULT_REGION;
//   - credentials: AWS_ACCESS_KEY_ID (or AWS_ACCESS_KEY),
//     AWS_SECRET_ACCESS_KEY (or AWS_SECRET_KEY), AWS_SESSION_TOKEN,
//     AWS_ACCOUNT_ID; else the container credentials endpoint
//     (AWS_CONTAINER_CREDENTIALS_FULL_URI or _RELATIVE_URI, with
//     AWS_CONTAINER_AUTHORIZATION_TOKEN or _TOKEN_FILE);
//   - endpoints: AWS_ENDPOINT_URL and AWS_ENDPOINT_URL_<SERVICE>, unless
//     AWS_IGNORE_CONFIGURED_ENDPOINT_URLS is true; AWS_USE_FIPS_ENDPOINT,
//     AWS_USE_DUALSTACK_ENDPOINT;
//   - AWS_MAX_ATTEMPTS, AWS_RETRY_MODE, AWS_SDK_UA_APP_ID,
//     AWS_DEFAULTS_MODE, AWS_ACCOUNT_ID_ENDPOINT_MODE.
//
// Shared config and credentials files, profiles, SSO, web identity and
// IMDS are not read: a Lambda has none of them. Without credentials,
// Config fails at once (the SDK's loader would fail on the first call).
package awsenv

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/credentials/endpointcreds"
	"github.com/aws/smithy-go/logging"
)

// containerHost is where ECS and Lambda serve container credentials for a
// relative URI.
const containerHost = "http://169.254.170.2"

// ErrNoCredentials is returned when the environment has no credentials.
var ErrNoCredentials = errors.New("no AWS credentials in the environment (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_CONTAINER_CREDENTIALS_FULL_URI)")

// InvalidError is a variable whose value cannot be used.
type InvalidError struct {
	Name, Value string
	Err         error
}

func (e *InvalidError) Error() string {
	return fmt.Sprintf("awsenv: %s=%q: %v", e.Name, e.Value, e.Err)
}

func (e *InvalidError) Unwrap() error { return e.Err }

// Config is the configuration of the process environment (os.Getenv).
func Config() (aws.Config, error) { return FromEnv(os.Getenv) }

// FromEnv is the configuration getenv describes. Service clients built
// from it also look up AWS_ENDPOINT_URL_<SERVICE> through getenv.
func FromEnv(getenv func(string) string) (aws.Config, error) {
	src := source{getenv: getenv}
	for _, name := range []string{"AWS_USE_FIPS_ENDPOINT", "AWS_USE_DUALSTACK_ENDPOINT", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"} {
		if _, _, err := src.flag(name); err != nil {
			return aws.Config{}, err
		}
	}
	cfg := aws.Config{
		Region:        first(getenv("AWS_REGION"), getenv("AWS_DEFAULT_REGION")),
		AppID:         getenv("AWS_SDK_UA_APP_ID"),
		ConfigSources: []any{src},
		// The SDK loader's defaults when the variables are unset.
		Logger:                logging.NewStandardLogger(os.Stderr),
		HTTPClient:            awshttp.NewBuildableClient(),
		DefaultsMode:          aws.DefaultsModeLegacy,
		AccountIDEndpointMode: aws.AccountIDEndpointModePreferred,
	}
	if !src.ignoreEndpoints() {
		if u := getenv("AWS_ENDPOINT_URL"); u != "" {
			cfg.BaseEndpoint = aws.String(u)
		}
	}
	if v := getenv("AWS_MAX_ATTEMPTS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			return aws.Config{}, &InvalidError{"AWS_MAX_ATTEMPTS", v, errors.New("not a positive number")}
		}
		cfg.RetryMaxAttempts = n
	}
	if v := getenv("AWS_RETRY_MODE"); v != "" {
		m, err := aws.ParseRetryMode(v)
		if err != nil {
			return aws.Config{}, &InvalidError{"AWS_RETRY_MODE", v, err}
		}
		cfg.RetryMode = m
	}
	if v := getenv("AWS_DEFAULTS_MODE"); v != "" {
		if !cfg.DefaultsMode.SetFromString(v) {
			return aws.Config{}, &InvalidError{"AWS_DEFAULTS_MODE", v, errors.New("unknown defaults mode")}
		}
	}
	if v := getenv("AWS_ACCOUNT_ID_ENDPOINT_MODE"); v != "" {
		switch m := aws.AccountIDEndpointMode(strings.ToLower(v)); m {
		case aws.AccountIDEndpointModePreferred, aws.AccountIDEndpointModeRequired, aws.AccountIDEndpointModeDisabled:
			cfg.AccountIDEndpointMode = m
		default:
			return aws.Config{}, &InvalidError{"AWS_ACCOUNT_ID_ENDPOINT_MODE", v, errors.New("want preferred, required or disabled")}
		}
	}
	creds, err := credentialsFrom(getenv)
	if err != nil {
		return aws.Config{}, err
	}
	cfg.Credentials = creds
	return cfg, nil
}

func credentialsFrom(getenv func(string) string) (aws.CredentialsProvider, error) {
	id := first(getenv("AWS_ACCESS_KEY_ID"), getenv("AWS_ACCESS_KEY"))
	secret := first(getenv("AWS_SECRET_ACCESS_KEY"), getenv("AWS_SECRET_KEY"))
	switch {
	case id != "" && secret != "":
		return aws.NewCredentialsCache(credentials.StaticCredentialsProvider{Value: aws.Credentials{
			AccessKeyID: id, SecretAccessKey: secret, SessionToken: getenv("AWS_SESSION_TOKEN"),
			AccountID: getenv("AWS_ACCOUNT_ID"), Source: credentials.StaticCredentialsName,
		}}), nil
	case id != "" || secret != "":
		return nil, &InvalidError{"AWS_ACCESS_KEY_ID", id, errors.New("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must both be set")}
	}
	endpoint := getenv("AWS_CONTAINER_CREDENTIALS_FULL_URI")
	if rel := getenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"); rel != "" {
		endpoint = containerHost + rel
	}
	if endpoint == "" {
		return nil, ErrNoCredentials
	}
	token, tokenFile := getenv("AWS_CONTAINER_AUTHORIZATION_TOKEN"), getenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE")
	return aws.NewCredentialsCache(endpointcreds.New(endpoint, func(o *endpointcreds.Options) {
		o.AuthorizationToken = token
		if tokenFile != "" {
			o.AuthorizationTokenProvider = endpointcreds.TokenProviderFunc(func() (string, error) {
				b, err := os.ReadFile(tokenFile)
				if err != nil {
					return "", fmt.Errorf("read container authorization token: %w", err)
				}
				return string(b), nil
			})
		}
	})), nil
}

// source answers the questions service clients ask their configuration
// sources (endpoint overrides, FIPS, dual-stack).
type source struct{ getenv func(string) string }

func (s source) ignoreEndpoints() bool {
	on, _, _ := s.flag("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")
	return on
}

// GetIgnoreConfiguredEndpoints reports AWS_IGNORE_CONFIGURED_ENDPOINT_URLS.
func (s source) GetIgnoreConfiguredEndpoints(context.Context) (bool, bool, error) {
	return s.flag("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")
}

// GetServiceBaseEndpoint is AWS_ENDPOINT_URL_<SDK ID, upper case, spaces
// as underscores>, e.g. AWS_ENDPOINT_URL_DYNAMODB.
func (s source) GetServiceBaseEndpoint(_ context.Context, sdkID string) (string, bool, error) {
	v := s.getenv("AWS_ENDPOINT_URL_" + strings.ReplaceAll(strings.ToUpper(sdkID), " ", "_"))
	return v, v != "", nil
}

// GetUseFIPSEndpoint is AWS_USE_FIPS_ENDPOINT.
func (s source) GetUseFIPSEndpoint(context.Context) (aws.FIPSEndpointState, bool, error) {
	on, found, err := s.flag("AWS_USE_FIPS_ENDPOINT")
	if !found || err != nil {
		return aws.FIPSEndpointStateUnset, found, err
	}
	if on {
		return aws.FIPSEndpointStateEnabled, true, nil
	}
	return aws.FIPSEndpointStateDisabled, true, nil
}

// GetUseDualStackEndpoint is AWS_USE_DUALSTACK_ENDPOINT.
func (s source) GetUseDualStackEndpoint(context.Context) (aws.DualStackEndpointState, bool, error) {
	on, found, err := s.flag("AWS_USE_DUALSTACK_ENDPOINT")
	if !found || err != nil {
		return aws.DualStackEndpointStateUnset, found, err
	}
	if on {
		return aws.DualStackEndpointStateEnabled, true, nil
	}
	return aws.DualStackEndpointStateDisabled, true, nil
}

func (s source) flag(name string) (on, found bool, err error) {
	v := s.getenv(name)
	if v == "" {
		return false, false, nil
	}
	switch {
	case strings.EqualFold(v, "true"):
		return true, true, nil
	case strings.EqualFold(v, "false"):
		return false, true, nil
	}
	return false, false, &InvalidError{name, v, errors.New("want true or false")}
}

func first(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}
