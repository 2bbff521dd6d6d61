package trigger

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/ecsflow/ecsflow/internal/api"
	"github.com/ecsflow/ecsflow/internal/model"
)

// ECRAPI is the part of *ecr.Client the registries use.
type ECRAPI interface {
	DescribeImages(ctx context.Context, in *ecr.DescribeImagesInput, optFns ...func(*ecr.Options)) (*ecr.DescribeImagesOutput, error)
}

// SecretsAPI is the part of *secretsmanager.Client the registries use.
type SecretsAPI interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

var (
	_ ECRAPI     = (*ecr.Client)(nil)
	_ SecretsAPI = (*secretsmanager.Client)(nil)
)

// TagNotFoundError is a tag that does not exist in its repository.
type TagNotFoundError struct {
	Repository, Tag string
}

func (e *TagNotFoundError) Error() string {
	return fmt.Sprintf("tag %q does not exist in repository %s", e.Tag, e.Repository)
}

// Is lets the API tell a missing tag (400) from a registry failure.
func (e *TagNotFoundError) Is(target error) bool { return target == api.ErrTagNotFound }

// ErrCredentials is wrapped when a server's credentials cannot be read or
// are refused.
var ErrCredentials = errors.New("registry credentials")

// Registries reads Docker registries (tags, manifests) with
// go-containerregistry, and ECR with the ECR API. Credentials come from the
// server's Secrets Manager secret on every use; they are never logged,
// stored or put in an error.
type Registries struct {
	ecr       ECRAPI
	secrets   SecretsAPI
	transport http.RoundTripper
	backoff   remote.Backoff
	now       func() time.Time
	credTTL   time.Duration

	mu    sync.Mutex
	creds map[string]cachedCred // by secret ARN
}

// cachedCred is a secret's credentials, kept in memory for a short while so
// that one collection reads each secret once, not once per request.
type cachedCred struct {
	auth    authn.Authenticator
	expires time.Time
}

// DefaultCredentialTTL is how long credentials read from Secrets Manager are
// reused (in memory only).
const DefaultCredentialTTL = time.Minute

// RegistriesOption configures Registries.
type RegistriesOption func(*Registries)

// WithTransport sets the HTTP transport to registries (default
// remote.DefaultTransport).
func WithTransport(t http.RoundTripper) RegistriesOption {
	return func(r *Registries) { r.transport = t }
}

// WithRetryBackoff sets go-containerregistry's retry backoff for transient
// registry errors (default: 2 tries, 250 ms apart: the collector runs
// again on its schedule, so it need not insist).
func WithRetryBackoff(b remote.Backoff) RegistriesOption {
	return func(r *Registries) { r.backoff = b }
}

// WithCredentialTTL sets how long credentials are reused (default
// DefaultCredentialTTL; 0 reads the secret on every use).
func WithCredentialTTL(d time.Duration) RegistriesOption {
	return func(r *Registries) { r.credTTL = d }
}

// WithRegistriesClock sets the clock of the credential cache.
func WithRegistriesClock(now func() time.Time) RegistriesOption {
	return func(r *Registries) { r.now = now }
}

// NewRegistries returns registries over an ECR client and a Secrets
// Manager client; either may be nil when no server of its kind is used.
func NewRegistries(ecrc ECRAPI, secrets SecretsAPI, opts ...RegistriesOption) *Registries {
	r := &Registries{ecr: ecrc, secrets: secrets, transport: remote.DefaultTransport,
		backoff: remote.Backoff{Duration: 250 * time.Millisecond, Factor: 1, Steps: 2},
		now:     time.Now, credTTL: DefaultCredentialTTL, creds: map[string]cachedCred{}}
	for _, o := range opts {
		o(r)
	}
	return r
}

type secretDoc struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

// auth reads the server's credentials; a server without a secret is read
// anonymously.
func (r *Registries) auth(ctx context.Context, srv *model.ArtifactServer) (authn.Authenticator, error) {
	if srv.CredentialsSecretARN == "" {
		return authn.Anonymous, nil
	}
	if r.secrets == nil {
		return nil, fmt.Errorf("%w: no Secrets Manager client", ErrCredentials)
	}
	now := r.now()
	r.mu.Lock()
	c, ok := r.creds[srv.CredentialsSecretARN]
	r.mu.Unlock()
	if ok && now.Before(c.expires) {
		return c.auth, nil
	}
	out, err := r.secrets.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(srv.CredentialsSecretARN)})
	if err != nil {
		return nil, fmt.Errorf("%w: read secret %s: %w", ErrCredentials, srv.CredentialsSecretARN, err)
	}
	var doc secretDoc
	if err := json.Unmarshal([]byte(aws.ToString(out.SecretString)), &doc); err != nil || doc.Username == "" {
		// The decode error could quote the secret; it is not included.
		return nil, fmt.Errorf("%w: secret %s is not {\"username\",\"password\"}", ErrCredentials, srv.CredentialsSecretARN)
	}
	a := &authn.Basic{Username: doc.Username, Password: doc.Password}
	if r.credTTL > 0 {
		r.mu.Lock()
		r.creds[srv.CredentialsSecretARN] = cachedCred{auth: a, expires: now.Add(r.credTTL)}
		r.mu.Unlock()
	}
	return a, nil
}

// forget drops a server's cached credentials (after a registry refused them).
func (r *Registries) forget(srv *model.ArtifactServer) {
	r.mu.Lock()
	delete(r.creds, srv.CredentialsSecretARN)
	r.mu.Unlock()
}

// repository is the go-containerregistry name of a repository on a Docker
// registry server.
func repository(srv *model.ArtifactServer, repo string) (name.Repository, error) {
	u, err := url.Parse(srv.URL)
	if err != nil || u.Host == "" {
		return name.Repository{}, fmt.Errorf("artifact server %s has an unusable url %q", srv.ID, srv.URL)
	}
	var opts []name.Option
	if u.Scheme == "http" {
		opts = append(opts, name.Insecure)
	}
	ref := u.Host + "/" + repo
	switch u.Hostname() {
	case "docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com":
		ref = name.DefaultRegistry + "/" + repo
	}
	r, err := name.NewRepository(ref, opts...)
	if err != nil {
		return name.Repository{}, fmt.Errorf("repository %q on %s: %w", repo, srv.ID, err)
	}
	return r, nil
}

func (r *Registries) remoteOpts(ctx context.Context, a authn.Authenticator) []remote.Option {
	return []remote.Option{remote.WithContext(ctx), remote.WithAuth(a), remote.WithTransport(r.transport),
		remote.WithRetryBackoff(r.backoff)}
}

// credentialError marks 401/403 answers as credential problems and forgets
// the cached credentials, so a rotated secret is read again.
func (r *Registries) credentialError(srv *model.ArtifactServer, err error) error {
	var te *transport.Error
	if errors.As(err, &te) && (te.StatusCode == http.StatusUnauthorized || te.StatusCode == http.StatusForbidden) {
		r.forget(srv)
		return fmt.Errorf("%w: refused (%d)", ErrCredentials, te.StatusCode)
	}
	return err
}

// Tags lists a Docker registry repository's tags (Docker Registry HTTP API
// v2, all pages). A repository the registry does not know has no tags.
func (r *Registries) Tags(ctx context.Context, srv *model.ArtifactServer, repo string) ([]string, error) {
	a, err := r.auth(ctx, srv)
	if err != nil {
		return nil, err
	}
	rp, err := repository(srv, repo)
	if err != nil {
		return nil, err
	}
	tags, err := remote.List(rp, r.remoteOpts(ctx, a)...)
	var te *transport.Error
	if errors.As(err, &te) && te.StatusCode == http.StatusNotFound {
		return nil, nil // no image pushed to it yet
	}
	if err != nil {
		return nil, fmt.Errorf("list tags of %s: %w", rp, r.credentialError(srv, err))
	}
	return tags, nil
}

// ResolveDigest returns the digest a tag points to now: through ECR
// DescribeImages for an ECR server, through a manifest HEAD for a Docker
// registry. A tag that does not exist is a *TagNotFoundError.
func (r *Registries) ResolveDigest(ctx context.Context, srv *model.ArtifactServer, repo, tag string) (string, error) {
	if tag == "" || !tagRE.MatchString(tag) {
		return "", fmt.Errorf("resolve digest: %q is not a valid tag", tag)
	}
	switch srv.Type {
	case model.ArtifactServerECR:
		return r.ecrDigest(ctx, srv, repo, tag)
	case model.ArtifactServerDockerRegistry:
		return r.registryDigest(ctx, srv, repo, tag)
	}
	return "", fmt.Errorf("resolve digest: artifact server %s has unknown type %q", srv.ID, srv.Type)
}

func (r *Registries) ecrDigest(ctx context.Context, srv *model.ArtifactServer, repo, tag string) (string, error) {
	if r.ecr == nil {
		return "", fmt.Errorf("resolve digest of %s:%s: no ECR client", repo, tag)
	}
	in := &ecr.DescribeImagesInput{RepositoryName: aws.String(repo),
		ImageIds: []ecrtypes.ImageIdentifier{{ImageTag: aws.String(tag)}}}
	if srv.RegistryID != "" {
		in.RegistryId = aws.String(srv.RegistryID)
	}
	out, err := r.ecr.DescribeImages(ctx, in)
	// No such image, or no such repository: either way the tag does not exist.
	var nf *ecrtypes.ImageNotFoundException
	var rnf *ecrtypes.RepositoryNotFoundException
	if errors.As(err, &nf) || errors.As(err, &rnf) {
		return "", &TagNotFoundError{Repository: repo, Tag: tag}
	}
	if err != nil {
		return "", fmt.Errorf("describe image %s:%s: %w", repo, tag, err)
	}
	if len(out.ImageDetails) == 0 || aws.ToString(out.ImageDetails[0].ImageDigest) == "" {
		return "", &TagNotFoundError{Repository: repo, Tag: tag}
	}
	return aws.ToString(out.ImageDetails[0].ImageDigest), nil
}

func (r *Registries) registryDigest(ctx context.Context, srv *model.ArtifactServer, repo, tag string) (string, error) {
	a, err := r.auth(ctx, srv)
	if err != nil {
		return "", err
	}
	rp, err := repository(srv, repo)
	if err != nil {
		return "", err
	}
	desc, err := remote.Head(rp.Tag(tag), r.remoteOpts(ctx, a)...)
	var te *transport.Error
	if errors.As(err, &te) && te.StatusCode == http.StatusNotFound {
		return "", &TagNotFoundError{Repository: repo, Tag: tag}
	}
	if err != nil {
		return "", fmt.Errorf("head manifest %s:%s: %w", rp, tag, r.credentialError(srv, err))
	}
	return desc.Digest.String(), nil
}

var _ api.DigestResolver = (*Registries)(nil)
