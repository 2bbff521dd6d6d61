package ecsops

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/smithy-go"
)

// Registry is a Cloud Map service: where ECS registers a service's tasks,
// and the DNS name they answer on.
type Registry struct {
	ARN, ID, Name string
	NamespaceID   string
	// NamespaceName is the namespace's DNS name ("" for an HTTP namespace).
	NamespaceName string
}

// DNSName is the name the registry's tasks answer on: <name>.<namespace>.
func (r Registry) DNSName() string {
	return r.Name + "." + strings.TrimSuffix(r.NamespaceName, ".")
}

// ErrNoCloudMap is returned when the Clients have no ECS client to take
// the Cloud Map calls' settings from.
var ErrNoCloudMap = errors.New("no client to take the Cloud Map settings from")

// cloudMapAPI makes the few Cloud Map (servicediscovery) calls DNS
// blue/green needs, as signed AWS JSON 1.1 requests with the ECS client's
// region, credentials, endpoint and HTTP client. The SDK's servicediscovery
// client is not used: it would add ~0.35 MB to each step Lambda that
// manages revision registries, pushing them over the 12 MB budget.
type cloudMapAPI struct {
	endpoint string
	region   string
	creds    aws.CredentialsProvider
	http     interface {
		Do(*http.Request) (*http.Response, error)
	}
	signer *v4.Signer
}

// cloudMaps holds the Cloud Map caller of each Clients.
var cloudMaps sync.Map // *Clients -> *cloudMapAPI

func (c *Clients) cloudMap() (*cloudMapAPI, error) {
	if v, ok := cloudMaps.Load(c); ok {
		return v.(*cloudMapAPI), nil
	}
	if c.ECS == nil {
		return nil, ErrNoCloudMap
	}
	o := c.ECS.Options()
	a := &cloudMapAPI{region: o.Region, creds: o.Credentials, signer: v4.NewSigner()}
	a.endpoint = "https://servicediscovery." + o.Region + ".amazonaws.com"
	if e := aws.ToString(o.BaseEndpoint); e != "" {
		a.endpoint = strings.TrimSuffix(e, "/")
	}
	if o.HTTPClient != nil {
		a.http = o.HTTPClient
	} else {
		a.http = http.DefaultClient
	}
	v, _ := cloudMaps.LoadOrStore(c, a)
	return v.(*cloudMapAPI), nil
}

// call makes one Cloud Map call, counted as servicediscovery:<op>, with up
// to five retries of throttling and server errors (20 ms doubling).
func (a *cloudMapAPI) call(ctx context.Context, op string, in, out any) error {
	if cnt := CounterFrom(ctx); cnt != nil {
		cnt.Add("servicediscovery:" + op)
	}
	body, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("servicediscovery %s: encode: %w", op, err)
	}
	sum := sha256.Sum256(body)
	hash := hex.EncodeToString(sum[:])
	for attempt := 0; ; attempt++ {
		err := a.once(ctx, op, body, hash, out)
		var ae *smithy.GenericAPIError
		retry := errors.As(err, &ae) && (ae.Fault == smithy.FaultServer || strings.Contains(ae.Code, "Throttl") || ae.Code == "RequestLimitExceeded")
		if !retry || attempt >= 5 {
			return err
		}
		t := time.NewTimer(min(time.Duration(20<<attempt)*time.Millisecond, time.Second))
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
	}
}

func (a *cloudMapAPI) once(ctx context.Context, op string, body []byte, hash string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.endpoint+"/", bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("servicediscovery %s: %w", op, err)
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", "Route53AutoNaming_v20170314."+op)
	if a.creds != nil {
		creds, err := a.creds.Retrieve(ctx)
		if err != nil {
			return fmt.Errorf("servicediscovery %s: credentials: %w", op, err)
		}
		if err := a.signer.SignHTTP(ctx, creds, req, hash, "servicediscovery", a.region, time.Now().UTC()); err != nil {
			return fmt.Errorf("servicediscovery %s: sign: %w", op, err)
		}
	}
	resp, err := a.http.Do(req)
	if err != nil {
		return fmt.Errorf("servicediscovery %s: %w", op, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return fmt.Errorf("servicediscovery %s: read: %w", op, err)
	}
	if resp.StatusCode/100 == 2 {
		if out == nil || len(raw) == 0 {
			return nil
		}
		if err := json.Unmarshal(raw, out); err != nil {
			return fmt.Errorf("servicediscovery %s: decode: %w", op, err)
		}
		return nil
	}
	var e struct {
		Type    string `json:"__type"`
		Message string `json:"message"`
		Msg     string `json:"Message"`
	}
	_ = json.Unmarshal(raw, &e)
	code := e.Type
	if code == "" {
		code = resp.Header.Get("X-Amzn-ErrorType")
	}
	if i := strings.LastIndexByte(code, '#'); i >= 0 {
		code = code[i+1:]
	}
	if i := strings.IndexByte(code, ':'); i >= 0 {
		code = code[:i]
	}
	if code == "" {
		code = http.StatusText(resp.StatusCode)
	}
	ae := &smithy.GenericAPIError{Code: code, Message: e.Message + e.Msg, Fault: smithy.FaultClient}
	if resp.StatusCode >= 500 {
		ae.Fault = smithy.FaultServer
	}
	return fmt.Errorf("servicediscovery %s: %w", op, ae)
}

// The Cloud Map shapes the calls use (AWS JSON member names).
type (
	sdDNSRecord struct {
		Type string `json:"Type"`
		TTL  *int64 `json:"TTL,omitempty"`
	}
	sdDNSConfig struct {
		NamespaceID   string        `json:"NamespaceId,omitempty"`
		RoutingPolicy string        `json:"RoutingPolicy,omitempty"`
		DNSRecords    []sdDNSRecord `json:"DnsRecords"`
	}
	sdHealthCheckConfig struct {
		Type             string `json:"Type"`
		ResourcePath     string `json:"ResourcePath,omitempty"`
		FailureThreshold *int32 `json:"FailureThreshold,omitempty"`
	}
	sdHealthCheckCustomConfig struct {
		FailureThreshold *int32 `json:"FailureThreshold,omitempty"`
	}
	sdService struct {
		ID                      string                     `json:"Id"`
		ARN                     string                     `json:"Arn"`
		Name                    string                     `json:"Name"`
		NamespaceID             string                     `json:"NamespaceId"`
		Type                    string                     `json:"Type,omitempty"`
		DNSConfig               *sdDNSConfig               `json:"DnsConfig,omitempty"`
		HealthCheckConfig       *sdHealthCheckConfig       `json:"HealthCheckConfig,omitempty"`
		HealthCheckCustomConfig *sdHealthCheckCustomConfig `json:"HealthCheckCustomConfig,omitempty"`
	}
	sdNamespace struct {
		ID   string `json:"Id"`
		Name string `json:"Name"`
		Type string `json:"Type"`
	}
)

// registryID is the Cloud Map service ID at the end of its ARN
// (arn:aws:servicediscovery:<region>:<account>:service/srv-...).
func registryID(arn string) (string, error) {
	i := strings.LastIndex(arn, ":service/")
	if !strings.HasPrefix(arn, "arn:") || i < 0 || len(arn) == i+len(":service/") {
		return "", fmt.Errorf("%q is not a Cloud Map service ARN", arn)
	}
	return arn[i+len(":service/"):], nil
}

func (a *cloudMapAPI) getService(ctx context.Context, id string) (*sdService, error) {
	var out struct {
		Service *sdService `json:"Service"`
	}
	if err := a.call(ctx, "GetService", map[string]string{"Id": id}, &out); err != nil {
		return nil, err
	}
	if out.Service == nil {
		return nil, fmt.Errorf("servicediscovery GetService %s: no service in the answer", id)
	}
	return out.Service, nil
}

func (a *cloudMapAPI) registryOf(ctx context.Context, s *sdService) (Registry, error) {
	r := Registry{ARN: s.ARN, ID: s.ID, Name: s.Name, NamespaceID: s.NamespaceID}
	var out struct {
		Namespace *sdNamespace `json:"Namespace"`
	}
	if err := a.call(ctx, "GetNamespace", map[string]string{"Id": s.NamespaceID}, &out); err != nil {
		return r, fmt.Errorf("get namespace %s: %w", s.NamespaceID, err)
	}
	if out.Namespace != nil && out.Namespace.Type != "HTTP" {
		r.NamespaceName = out.Namespace.Name
	}
	return r, nil
}

func (a *cloudMapAPI) findService(ctx context.Context, namespaceID, name string) (*sdService, bool, error) {
	in := map[string]any{"Filters": []map[string]any{{"Name": "NAMESPACE_ID", "Values": []string{namespaceID}, "Condition": "EQ"}}}
	for {
		var out struct {
			Services  []sdService `json:"Services"`
			NextToken string      `json:"NextToken"`
		}
		if err := a.call(ctx, "ListServices", in, &out); err != nil {
			return nil, false, fmt.Errorf("list registries of namespace %s: %w", namespaceID, err)
		}
		for i := range out.Services {
			if s := out.Services[i]; s.Name == name {
				s.NamespaceID = namespaceID
				return &s, true, nil
			}
		}
		if out.NextToken == "" {
			return nil, false, nil
		}
		in["NextToken"] = out.NextToken
	}
}

// RevisionRegistry returns the Cloud Map service name in the namespace of
// the base registry (baseARN), creating it with the base's DNS records and
// health check settings when it does not exist (a retried step finds the
// one it made). created says whether it was made now.
func (c *Clients) RevisionRegistry(ctx context.Context, baseARN, name, requestID string) (reg Registry, created bool, err error) {
	a, err := c.cloudMap()
	if err != nil {
		return Registry{}, false, err
	}
	baseID, err := registryID(baseARN)
	if err != nil {
		return Registry{}, false, err
	}
	b, err := a.getService(ctx, baseID)
	if err != nil {
		return Registry{}, false, fmt.Errorf("get registry %s: %w", baseARN, err)
	}
	if found, ok, err := a.findService(ctx, b.NamespaceID, name); err != nil || ok {
		if err != nil {
			return Registry{}, false, err
		}
		r, err := a.registryOf(ctx, found)
		return r, false, err
	}
	in := map[string]any{"Name": name, "NamespaceId": b.NamespaceID, "CreatorRequestId": requestID,
		"Description": "revision " + name + " (ecsflow)"}
	if b.Type == "HTTP" {
		in["Type"] = "HTTP"
	}
	if dc := b.DNSConfig; dc != nil {
		in["DnsConfig"] = sdDNSConfig{RoutingPolicy: dc.RoutingPolicy, DNSRecords: dc.DNSRecords}
	}
	if b.HealthCheckConfig != nil {
		in["HealthCheckConfig"] = b.HealthCheckConfig
	}
	if b.HealthCheckCustomConfig != nil {
		in["HealthCheckCustomConfig"] = b.HealthCheckCustomConfig
	}
	var out struct {
		Service *sdService `json:"Service"`
	}
	err = a.call(ctx, "CreateService", in, &out)
	var ae smithy.APIError
	if errors.As(err, &ae) && ae.ErrorCode() == "ServiceAlreadyExists" {
		found, ok, ferr := a.findService(ctx, b.NamespaceID, name)
		if ferr != nil || !ok {
			return Registry{}, false, fmt.Errorf("create registry %s: %w", name, err)
		}
		r, err := a.registryOf(ctx, found)
		return r, false, err
	}
	if err != nil {
		return Registry{}, false, fmt.Errorf("create registry %s: %w", name, err)
	}
	if out.Service == nil {
		return Registry{}, false, fmt.Errorf("create registry %s: no service in the answer", name)
	}
	r, err := a.registryOf(ctx, out.Service)
	return r, true, err
}

// FindRegistry finds the Cloud Map service name in the namespace of the
// base registry.
func (c *Clients) FindRegistry(ctx context.Context, baseARN, name string) (Registry, bool, error) {
	a, err := c.cloudMap()
	if err != nil {
		return Registry{}, false, err
	}
	baseID, err := registryID(baseARN)
	if err != nil {
		return Registry{}, false, err
	}
	b, err := a.getService(ctx, baseID)
	if err != nil {
		return Registry{}, false, fmt.Errorf("get registry %s: %w", baseARN, err)
	}
	s, ok, err := a.findService(ctx, b.NamespaceID, name)
	if err != nil || !ok {
		return Registry{}, false, err
	}
	r, err := a.registryOf(ctx, s)
	return r, true, err
}

// DeleteRegistry deregisters the instances left in the Cloud Map service
// (tasks still draining) and deletes it; a missing one is not an error.
func (c *Clients) DeleteRegistry(ctx context.Context, id string) error {
	a, err := c.cloudMap()
	if err != nil {
		return err
	}
	inst, err := c.RegistryInstances(ctx, id)
	if isCloudMapNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	for iid := range inst {
		err := a.call(ctx, "DeregisterInstance", map[string]string{"ServiceId": id, "InstanceId": iid}, nil)
		if err != nil && !isCloudMapNotFound(err) {
			return fmt.Errorf("deregister %s from registry %s: %w", iid, id, err)
		}
	}
	if err := a.call(ctx, "DeleteService", map[string]string{"Id": id}, nil); err != nil && !isCloudMapNotFound(err) {
		return fmt.Errorf("delete registry %s: %w", id, err)
	}
	return nil
}

// RegistryInstances lists the instances registered in the Cloud Map
// service: their ID and attributes (AWS_INSTANCE_IPV4, ECS_SERVICE_NAME).
func (c *Clients) RegistryInstances(ctx context.Context, id string) (map[string]map[string]string, error) {
	a, err := c.cloudMap()
	if err != nil {
		return nil, err
	}
	got := map[string]map[string]string{}
	in := map[string]any{"ServiceId": id}
	for {
		var out struct {
			Instances []struct {
				ID         string            `json:"Id"`
				Attributes map[string]string `json:"Attributes"`
			} `json:"Instances"`
			NextToken string `json:"NextToken"`
		}
		if err := a.call(ctx, "ListInstances", in, &out); err != nil {
			return nil, fmt.Errorf("list instances of registry %s: %w", id, err)
		}
		for _, i := range out.Instances {
			got[i.ID] = i.Attributes
		}
		if out.NextToken == "" {
			return got, nil
		}
		in["NextToken"] = out.NextToken
	}
}

func isCloudMapNotFound(err error) bool {
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return false
	}
	switch ae.ErrorCode() {
	case "ServiceNotFound", "InstanceNotFound", "NamespaceNotFound":
		return true
	}
	return false
}
