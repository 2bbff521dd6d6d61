package awsenv_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/ecsflow/ecsflow/internal/awsenv"
)

// envNames are the variables either loader reads; each test starts with
// none of them set.
var envNames = []string{
	"AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID", "AWS_ACCESS_KEY", "AWS_SECRET_ACCESS_KEY",
	"AWS_SECRET_KEY", "AWS_SESSION_TOKEN", "AWS_ACCOUNT_ID", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
	"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_AUTHORIZATION_TOKEN",
	"AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB",
	"AWS_ENDPOINT_URL_SFN", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "AWS_USE_FIPS_ENDPOINT",
	"AWS_USE_DUALSTACK_ENDPOINT", "AWS_MAX_ATTEMPTS", "AWS_RETRY_MODE", "AWS_SDK_UA_APP_ID",
	"AWS_DEFAULTS_MODE", "AWS_ACCOUNT_ID_ENDPOINT_MODE", "AWS_PROFILE", "AWS_DEFAULT_PROFILE",
	"AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN",
}

// cleanEnv unsets every variable the loaders read and points the SDK's
// loader away from any shared files and instance metadata.
func cleanEnv(t *testing.T) {
	t.Helper()
	for _, k := range envNames {
		t.Setenv(k, "")
		if err := os.Unsetenv(k); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
}

// resolved is what a service client ends up with, the part of it the
// environment decides.
type resolved struct {
	Region, AppID                 string
	DynamoDBEndpoint, SFNEndpoint string
	MaxAttempts                   int
	RetryMode                     aws.RetryMode
	FIPS                          aws.FIPSEndpointState
	DualStack                     aws.DualStackEndpointState
	AccountIDMode                 aws.AccountIDEndpointMode
	DefaultsMode                  aws.DefaultsMode
	KeyID, Secret, Token, Account string
	HTTPClient, Logger            string
}

func resolve(t *testing.T, cfg aws.Config) resolved {
	t.Helper()
	ddb := dynamodb.NewFromConfig(cfg).Options()
	sf := sfn.NewFromConfig(cfg).Options()
	r := resolved{
		Region: ddb.Region, AppID: ddb.AppID,
		DynamoDBEndpoint: aws.ToString(ddb.BaseEndpoint), SFNEndpoint: aws.ToString(sf.BaseEndpoint),
		MaxAttempts: ddb.RetryMaxAttempts, RetryMode: ddb.RetryMode,
		FIPS: ddb.EndpointOptions.UseFIPSEndpoint, DualStack: ddb.EndpointOptions.UseDualStackEndpoint,
		AccountIDMode: ddb.AccountIDEndpointMode, DefaultsMode: cfg.DefaultsMode,
		HTTPClient: fmt.Sprintf("%T", cfg.HTTPClient), Logger: fmt.Sprintf("%T", cfg.Logger),
	}
	creds, err := cfg.Credentials.Retrieve(context.Background())
	if err != nil {
		t.Fatalf("retrieve credentials: %v", err)
	}
	r.KeyID, r.Secret, r.Token, r.Account = creds.AccessKeyID, creds.SecretAccessKey, creds.SessionToken, creds.AccountID
	return r
}

// TestMatchesSDKLoader: for each environment a Lambda (or ecsflow local)
// runs with, the clients built from awsenv resolve what the clients built
// from config.LoadDefaultConfig resolve.
func TestMatchesSDKLoader(t *testing.T) {
	lambda := map[string]string{
		"AWS_REGION": "eu-west-1", "AWS_DEFAULT_REGION": "eu-west-1", "AWS_ACCESS_KEY_ID": "ASIALAMBDA",
		"AWS_SECRET_ACCESS_KEY": "secret", "AWS_SESSION_TOKEN": "token",
	}
	with := func(extra map[string]string) map[string]string {
		m := map[string]string{}
		for k, v := range lambda {
			m[k] = v
		}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	tests := []struct {
		name string
		env  map[string]string
	}{
		{"lambda", lambda},
		{"default region only", map[string]string{"AWS_DEFAULT_REGION": "us-west-2", "AWS_ACCESS_KEY": "AKIA", "AWS_SECRET_KEY": "s"}},
		{"local endpoints", with(map[string]string{"AWS_ENDPOINT_URL": "http://127.0.0.1:4566", "AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:8000"})},
		{"service endpoint only", with(map[string]string{"AWS_ENDPOINT_URL_SFN": "http://127.0.0.1:8083"})},
		{"ignored endpoints", with(map[string]string{"AWS_ENDPOINT_URL": "http://127.0.0.1:4566", "AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:8000", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "true"})},
		{"retries", with(map[string]string{"AWS_MAX_ATTEMPTS": "7", "AWS_RETRY_MODE": "adaptive"})},
		{"fips and dual-stack", with(map[string]string{"AWS_USE_FIPS_ENDPOINT": "true", "AWS_USE_DUALSTACK_ENDPOINT": "TRUE"})},
		{"fips off", with(map[string]string{"AWS_USE_FIPS_ENDPOINT": "false"})},
		{"app id and defaults mode", with(map[string]string{"AWS_SDK_UA_APP_ID": "ecsflow", "AWS_DEFAULTS_MODE": "in-region"})},
		{"account id", with(map[string]string{"AWS_ACCOUNT_ID": "123456789012", "AWS_ACCOUNT_ID_ENDPOINT_MODE": "required"})},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cleanEnv(t)
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			sdk, err := config.LoadDefaultConfig(context.Background())
			if err != nil {
				t.Fatalf("LoadDefaultConfig: %v", err)
			}
			ours, err := awsenv.Config()
			if err != nil {
				t.Fatalf("awsenv.Config: %v", err)
			}
			if got, want := resolve(t, ours), resolve(t, sdk); got != want {
				t.Errorf("resolved:\n got %+v\nwant %+v", got, want)
			}
		})
	}
}

// Both loaders refuse the same bad values.
func TestBadValues(t *testing.T) {
	tests := []struct{ name, key, value string }{
		{"max attempts", "AWS_MAX_ATTEMPTS", "many"},
		{"retry mode", "AWS_RETRY_MODE", "eager"},
		{"fips", "AWS_USE_FIPS_ENDPOINT", "yes"},
		{"dual-stack", "AWS_USE_DUALSTACK_ENDPOINT", "1"},
		{"account id endpoint mode", "AWS_ACCOUNT_ID_ENDPOINT_MODE", "sometimes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cleanEnv(t)
			t.Setenv("AWS_REGION", "eu-west-1")
			t.Setenv("AWS_ACCESS_KEY_ID", "AKIA")
			t.Setenv("AWS_SECRET_ACCESS_KEY", "s")
			t.Setenv(tc.key, tc.value)
			if _, err := config.LoadDefaultConfig(context.Background()); err == nil {
				t.Fatalf("LoadDefaultConfig accepted %s=%s; this test's premise is wrong", tc.key, tc.value)
			}
			_, err := awsenv.Config()
			var invalid *awsenv.InvalidError
			if !errors.As(err, &invalid) || invalid.Name != tc.key {
				t.Fatalf("awsenv.Config() err = %v, want an InvalidError naming %s", err, tc.key)
			}
		})
	}
}

func TestNoCredentials(t *testing.T) {
	cleanEnv(t)
	t.Setenv("AWS_REGION", "eu-west-1")
	if _, err := awsenv.Config(); !errors.Is(err, awsenv.ErrNoCredentials) {
		t.Fatalf("err = %v, want ErrNoCredentials", err)
	}
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIA")
	var invalid *awsenv.InvalidError
	if _, err := awsenv.Config(); !errors.As(err, &invalid) {
		t.Fatalf("key without secret: err = %v, want an InvalidError", err)
	}
}

// Container credentials (AWS_CONTAINER_CREDENTIALS_FULL_URI with a token
// file) are fetched from the endpoint with the token, as the SDK does.
func TestContainerCredentials(t *testing.T) {
	var auths []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auths = append(auths, r.Header.Get("Authorization"))
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"AccessKeyId":"ASIACONTAINER","SecretAccessKey":"cs","Token":"ct","Expiration":"2100-01-01T00:00:00Z","AccountId":"210987654321"}`)
	}))
	defer srv.Close()
	cleanEnv(t)
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte("file-token"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_REGION", "eu-west-1")
	t.Setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", srv.URL+"/creds")
	t.Setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", tokenFile)
	sdk, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ours, err := awsenv.Config()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := resolve(t, ours), resolve(t, sdk); got != want {
		t.Errorf("resolved:\n got %+v\nwant %+v", got, want)
	}
	if got := resolve(t, ours).KeyID; got != "ASIACONTAINER" {
		t.Errorf("access key = %q, want the endpoint's", got)
	}
	if len(auths) != 2 || auths[0] != "file-token" || auths[1] != "file-token" {
		t.Errorf("Authorization headers = %q, want the token file's content, once per loader", auths)
	}
}

// A DynamoDB call from an awsenv config goes to AWS_ENDPOINT_URL_DYNAMODB,
// signed with the environment's credentials for its region.
func TestServiceEndpointOverTheWire(t *testing.T) {
	var target, auth, token string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		target, auth, token = r.Header.Get("X-Amz-Target"), r.Header.Get("Authorization"), r.Header.Get("X-Amz-Security-Token")
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		_, _ = io.WriteString(w, `{"TableNames":["ecsflow"]}`)
	}))
	defer srv.Close()
	cleanEnv(t)
	t.Setenv("AWS_REGION", "eu-central-1")
	t.Setenv("AWS_ACCESS_KEY_ID", "ASIAWIRE")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "s")
	t.Setenv("AWS_SESSION_TOKEN", "session")
	t.Setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
	t.Setenv("AWS_ENDPOINT_URL_DYNAMODB", srv.URL)
	cfg, err := awsenv.Config()
	if err != nil {
		t.Fatal(err)
	}
	out, err := dynamodb.NewFromConfig(cfg).ListTables(context.Background(), &dynamodb.ListTablesInput{})
	if err != nil {
		t.Fatalf("ListTables: %v", err)
	}
	if len(out.TableNames) != 1 || out.TableNames[0] != "ecsflow" {
		t.Errorf("tables = %v, want [ecsflow]", out.TableNames)
	}
	if target != "DynamoDB_20120810.ListTables" {
		t.Errorf("X-Amz-Target = %q", target)
	}
	if !strings.Contains(auth, "Credential=ASIAWIRE/") || !strings.Contains(auth, "/eu-central-1/dynamodb/") {
		t.Errorf("Authorization = %q, want ASIAWIRE's credentials scoped to eu-central-1/dynamodb", auth)
	}
	if token != "session" {
		t.Errorf("X-Amz-Security-Token = %q, want the session token", token)
	}
}
