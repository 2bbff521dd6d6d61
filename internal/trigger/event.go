package trigger

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"time"
)

// EventBridge envelope values of ECR push events.
const (
	SourceECR             = "aws.ecr"
	DetailTypeImageAction = "ECR Image Action"
	ActionPush            = "PUSH"
	ResultSuccess         = "SUCCESS"
)

// MaxEventBytes is the largest event accepted (EventBridge's own limit).
const MaxEventBytes = 256 << 10

// ErrMalformedEvent is wrapped by every EventError about an event that is
// not a well-formed ECR push; ErrIgnoredEvent by events that are well formed
// but nothing to act on (another detail type, a DELETE, a FAILURE).
var (
	ErrMalformedEvent = errors.New("malformed event")
	ErrIgnoredEvent   = errors.New("ignored event")
)

// EventError says why an event was not acted on, with its id when it had one.
type EventError struct {
	ID     string
	Reason string
	kind   error
}

func (e *EventError) Error() string {
	id := e.ID
	if id == "" {
		id = "(no id)"
	}
	return fmt.Sprintf("event %s: %s: %s", id, e.kind, e.Reason)
}

// Unwrap returns ErrMalformedEvent or ErrIgnoredEvent.
func (e *EventError) Unwrap() error { return e.kind }

func malformed(id, format string, args ...any) error {
	return &EventError{ID: id, Reason: fmt.Sprintf(format, args...), kind: ErrMalformedEvent}
}

func ignored(id, format string, args ...any) error {
	return &EventError{ID: id, Reason: fmt.Sprintf(format, args...), kind: ErrIgnoredEvent}
}

// Push is a new image in a repository: an ECR push event, or a tag the
// collector found in a Docker registry. Tag is "" for a digest-only push.
type Push struct {
	// EventID identifies the delivery for deduplication: the EventBridge
	// event id, or SyntheticEventID for a collected tag.
	EventID string
	// Account and Region are the registry's (ECR only).
	Account, Region string
	Time            time.Time
	Repository      string
	Tag             string
	Digest          string
}

type envelope struct {
	ID         string          `json:"id"`
	DetailType string          `json:"detail-type"`
	Source     string          `json:"source"`
	Account    string          `json:"account"`
	Time       string          `json:"time"`
	Region     string          `json:"region"`
	Detail     json.RawMessage `json:"detail"`
}

type ecrDetail struct {
	Result     string `json:"result"`
	Repository string `json:"repository-name"`
	Digest     string `json:"image-digest"`
	Action     string `json:"action-type"`
	Tag        string `json:"image-tag"`
}

var (
	digestRE  = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)
	tagRE     = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)
	accountRE = regexp.MustCompile(`^[0-9]{12}$`)
	regionRE  = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]+$`)
	// repoRE is ECR's repository name rule (lower case path components).
	repoRE = regexp.MustCompile(`^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$`)
	idRE   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$`)
)

// DecodeECREvent decodes an EventBridge "ECR Image Action" event. It
// returns an *EventError wrapping ErrMalformedEvent for input that is not a
// well-formed ECR push event, and ErrIgnoredEvent for a well-formed event
// that is not a successful push.
func DecodeECREvent(raw []byte) (Push, error) {
	if len(raw) > MaxEventBytes {
		return Push{}, malformed("", "event is %d bytes, more than %d", len(raw), MaxEventBytes)
	}
	var env envelope
	if err := json.Unmarshal(raw, &env); err != nil {
		return Push{}, malformed(peekID(raw), "not an EventBridge event: %v", err)
	}
	if !idRE.MatchString(env.ID) {
		return Push{}, malformed("", "id %.64q is missing or not an event id", env.ID)
	}
	if env.Source != SourceECR || env.DetailType != DetailTypeImageAction {
		return Push{}, ignored(env.ID, "source %.64q detail-type %.64q is not an ECR image action", env.Source, env.DetailType)
	}
	if !accountRE.MatchString(env.Account) {
		return Push{}, malformed(env.ID, "account %.64q is not a 12-digit account id", env.Account)
	}
	if !regionRE.MatchString(env.Region) {
		return Push{}, malformed(env.ID, "region %.64q is not a region", env.Region)
	}
	at, err := time.Parse(time.RFC3339, env.Time)
	if err != nil {
		return Push{}, malformed(env.ID, "time %.64q is not RFC 3339", env.Time)
	}
	var d ecrDetail
	if len(bytes.TrimSpace(env.Detail)) == 0 {
		return Push{}, malformed(env.ID, "detail is missing")
	}
	if err := json.Unmarshal(env.Detail, &d); err != nil {
		return Push{}, malformed(env.ID, "detail is not an ECR image action: %v", err)
	}
	if d.Action != ActionPush || d.Result != ResultSuccess {
		return Push{}, ignored(env.ID, "action-type %.32q result %.32q is not a successful push", d.Action, d.Result)
	}
	if len(d.Repository) < 2 || len(d.Repository) > 256 || !repoRE.MatchString(d.Repository) {
		return Push{}, malformed(env.ID, "repository-name %.64q is not an ECR repository name", d.Repository)
	}
	if !digestRE.MatchString(d.Digest) {
		return Push{}, malformed(env.ID, "image-digest %.80q is not sha256: and 64 hex digits", d.Digest)
	}
	if d.Tag != "" && !tagRE.MatchString(d.Tag) {
		return Push{}, malformed(env.ID, "image-tag %.64q is not a valid tag", d.Tag)
	}
	return Push{EventID: env.ID, Account: env.Account, Region: env.Region, Time: at.UTC(),
		Repository: d.Repository, Tag: d.Tag, Digest: d.Digest}, nil
}

// peekID returns the event id of an event that failed to decode, when its
// top-level "id" is still readable, for the log line.
func peekID(raw []byte) string {
	var v struct {
		ID json.RawMessage `json:"id"`
	}
	if json.Unmarshal(raw, &v) != nil {
		return ""
	}
	var id string
	if json.Unmarshal(v.ID, &id) != nil || !idRE.MatchString(id) {
		return ""
	}
	return id
}

// SyntheticEventID is the event id of a tag found by the collector: the
// same server, repository, tag and digest always give the same id, so a
// tag collected twice (or re-sent after a crash) deduplicates like an
// EventBridge event delivered twice.
func SyntheticEventID(serverID, repository, tag, digest string) string {
	h := sha256.Sum256([]byte(serverID + "\x00" + repository + "\x00" + tag + "\x00" + digest))
	return "collect-" + hex.EncodeToString(h[:16])
}

// DeploymentID derives a deployment id (a UUIDv7 with the deployment
// prefix, like model.NewID) from an event id and a trigger id: its time
// bits are at, its other bits a hash of the two ids. The id is stored with
// the event's claim, so a redelivery after a crash reuses it.
func DeploymentID(eventID, triggerID string, at time.Time) string {
	h := sha256.Sum256([]byte(eventID + "\x00" + triggerID))
	var u [16]byte
	var ms [8]byte
	binary.BigEndian.PutUint64(ms[:], uint64(at.UnixMilli()))
	copy(u[0:6], ms[2:8])
	u[6] = 0x70 | h[0]&0x0f
	u[7] = h[1]
	u[8] = 0x80 | h[2]&0x3f
	copy(u[9:], h[3:10])
	return "dep-" + hex.EncodeToString(u[:])
}

// ClaimKey is the deduplication key of one trigger's reaction to one event.
func ClaimKey(eventID, triggerID string) string { return "trigger#" + eventID + "#" + triggerID }
