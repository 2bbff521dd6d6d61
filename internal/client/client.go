// Package client is a typed HTTP client for the ecsflow REST API. Against a
// loopback endpoint (ecsflow local) it speaks plain HTTP; against any other
// endpoint (API Gateway) it signs every request with SigV4 for the
// execute-api service, with credentials from the default AWS chain.
package client

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/config"

	"github.com/ecsflow/ecsflow/internal/model"
)

// DefaultEndpoint is where `ecsflow local` serves the API.
const DefaultEndpoint = "http://127.0.0.1:8080"

// Signer signs a request the way API Gateway's IAM authorizer expects.
type Signer interface {
	SignHTTP(ctx context.Context, credentials aws.Credentials, r *http.Request, payloadHash string,
		service string, region string, signingTime time.Time, optFns ...func(*v4.SignerOptions)) error
}

var _ Signer = (*v4.Signer)(nil)

// SigV4 is what a client needs to sign requests.
type SigV4 struct {
	Signer      Signer
	Credentials aws.CredentialsProvider
	Region      string
}

// Client talks to one ecsflow API endpoint.
type Client struct {
	base *url.URL
	http *http.Client
	sign *SigV4
}

// Options configure New.
type Options struct {
	// HTTPClient defaults to a client with a 30 s timeout.
	HTTPClient *http.Client
	// SigV4, when set, signs every request (New fills it for a non-loopback
	// endpoint from the default credential chain when nil).
	SigV4 *SigV4
}

// IsLoopback reports whether the endpoint's host is a loopback address or localhost.
func IsLoopback(u *url.URL) bool {
	h := u.Hostname()
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// New returns a client for endpoint. A non-loopback endpoint is signed with
// SigV4 (service execute-api); its region comes from the default AWS
// configuration (AWS_REGION, profile) or, failing that, from an API Gateway
// host name (<id>.execute-api.<region>.amazonaws.com).
func New(ctx context.Context, endpoint string, opts Options) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(endpoint, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("endpoint %q is not an http(s) URL", endpoint)
	}
	c := &Client{base: u, http: opts.HTTPClient, sign: opts.SigV4}
	if c.http == nil {
		c.http = &http.Client{Timeout: 30 * time.Second}
	}
	if c.sign == nil && !IsLoopback(u) {
		cfg, err := config.LoadDefaultConfig(ctx)
		if err != nil {
			return nil, fmt.Errorf("load AWS credentials for %s: %w", u.Host, err)
		}
		region := cfg.Region
		if region == "" {
			region = regionFromHost(u.Hostname())
		}
		if region == "" {
			return nil, fmt.Errorf("no AWS region for signing requests to %s: set AWS_REGION", u.Host)
		}
		c.sign = &SigV4{Signer: v4.NewSigner(), Credentials: cfg.Credentials, Region: region}
	}
	return c, nil
}

func regionFromHost(host string) string {
	parts := strings.Split(host, ".")
	for i, p := range parts {
		if p == "execute-api" && i+1 < len(parts) {
			return parts[i+1]
		}
	}
	return ""
}

// Endpoint is the API's base URL.
func (c *Client) Endpoint() string { return c.base.String() }

// Signed reports whether requests are SigV4-signed.
func (c *Client) Signed() bool { return c.sign != nil }

// Error is an answer from the API other than 2xx, or a failure to reach it.
type Error struct {
	Method, Path string
	// Status is 0 when the API was not reached.
	Status  int
	Code    string
	Message string
	Fields  []model.FieldError
	Cause   error
}

func (e *Error) Error() string {
	if e.Status == 0 {
		return fmt.Sprintf("%s %s: cannot reach the API: %v", e.Method, e.Path, e.Cause)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s: %d %s", e.Method, e.Path, e.Status, http.StatusText(e.Status))
	if e.Code != "" {
		fmt.Fprintf(&b, " (%s)", e.Code)
	}
	if e.Message != "" {
		b.WriteString(": " + strings.Join(strings.Fields(e.Message), " "))
	}
	for _, f := range e.Fields {
		fmt.Fprintf(&b, "; %s: %s", f.Field, f.Message)
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Cause }

// StatusOf returns the HTTP status of an *Error in err's chain, or 0.
func StatusOf(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.Status
	}
	return 0
}

// Response is a successful answer.
type Response struct {
	Status int
	ETag   string
	Body   []byte
}

// Do sends a request with an optional JSON body and extra headers, and
// returns the answer, or an *Error for a non-2xx status or a network failure.
func (c *Client) Do(ctx context.Context, method, path string, body any, header map[string]string) (*Response, error) {
	var payload []byte
	if body != nil {
		var err error
		if payload, err = json.Marshal(body); err != nil {
			return nil, fmt.Errorf("encode %s %s body: %w", method, path, err)
		}
	}
	u := *c.base
	p, q, _ := strings.Cut(path, "?")
	u.Path = strings.TrimRight(c.base.Path, "/") + p
	u.RawQuery = q
	req, err := http.NewRequestWithContext(ctx, method, u.String(), bytes.NewReader(payload))
	if err != nil {
		return nil, fmt.Errorf("build %s %s: %w", method, path, err)
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	if c.sign != nil {
		creds, err := c.sign.Credentials.Retrieve(ctx)
		if err != nil {
			return nil, fmt.Errorf("retrieve AWS credentials: %w", err)
		}
		sum := sha256.Sum256(payload)
		if err := c.sign.Signer.SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), "execute-api", c.sign.Region, time.Now()); err != nil {
			return nil, fmt.Errorf("sign %s %s: %w", method, path, err)
		}
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, &Error{Method: method, Path: p, Cause: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	if err != nil {
		return nil, &Error{Method: method, Path: p, Status: resp.StatusCode, Message: "reading the answer: " + err.Error(), Cause: err}
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		e := &Error{Method: method, Path: p, Status: resp.StatusCode}
		var eb struct {
			Error struct {
				Code    string             `json:"code"`
				Message string             `json:"message"`
				Fields  []model.FieldError `json:"fields"`
			} `json:"error"`
			Message string `json:"message"` // API Gateway's own errors
		}
		if json.Unmarshal(b, &eb) == nil {
			e.Code, e.Message, e.Fields = eb.Error.Code, eb.Error.Message, eb.Error.Fields
			if e.Message == "" {
				e.Message = eb.Message
			}
		}
		if e.Message == "" {
			e.Message = strings.Join(strings.Fields(string(b)), " ")
			if len(e.Message) > 200 {
				e.Message = e.Message[:200] + "..."
			}
		}
		return nil, e
	}
	return &Response{Status: resp.StatusCode, ETag: resp.Header.Get("ETag"), Body: b}, nil
}

// DoJSON is Do, decoding a successful answer into out (when not nil).
func (c *Client) DoJSON(ctx context.Context, method, path string, body any, header map[string]string, out any) (*Response, error) {
	r, err := c.Do(ctx, method, path, body, header)
	if err != nil {
		return nil, err
	}
	if out != nil && len(r.Body) > 0 {
		if err := json.Unmarshal(r.Body, out); err != nil {
			return nil, fmt.Errorf("decode %s %s answer: %w", method, path, err)
		}
	}
	return r, nil
}
