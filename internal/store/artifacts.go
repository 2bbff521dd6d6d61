package store

// Collected artifacts: the tags seen in the repositories of Docker registry
// artifact servers (which send no push events), and each server's last
// collection outcome.
//
// # Items
//
//	item         PK                           SK            other attributes
//	seen tag     ART#<serverId>#<repository>  T#<tag>       digest (S, absent when unknown), seenAt (S, RFC 3339 ns)
//	repository   ART#<serverId>#<repository>  #R            polledAt (S, RFC 3339 ns): last successful poll; the repository has a baseline
//	collection   ART#<serverId>               #S            doc (CollectStatus)
//
// # Access patterns
//
//   - SeenTags: Query PK=ART#<serverId>#<repository> (all pages, strongly
//     consistent): the seen tags and whether the repository was ever polled
//     (its #R item), in one partition read.
//   - RecordTag: PutItem of the tag's item (a moved tag is overwritten with
//     its new digest).
//   - MarkPolled: PutItem of the #R item (after each successful listing).
//   - PutCollectStatus / CollectStatus: PutItem / GetItem of ART#<serverId>,
//     #S.
//
// Credentials are never stored; only tags, digests, times and error
// messages (which the collector builds without credentials).

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

const (
	prefArtifact  = "ART#"
	prefSeenTag   = "T#"
	skRepo        = "#R"
	skCollect     = "#S"
	attrDigest    = "digest"
	attrSeenAt    = "seenAt"
	attrPolledAt  = "polledAt"
	timeLayoutArt = "2006-01-02T15:04:05.000000000Z"
)

// SeenTag is a tag the collector has seen, with the digest it pointed to.
type SeenTag struct {
	Tag    string
	Digest string
	SeenAt time.Time
}

// CollectStatus is the outcome of an artifact server's last collection.
type CollectStatus struct {
	ServerID string `json:"serverId"`
	// LastPolledAt is the start of the last collection, successful or not.
	LastPolledAt time.Time `json:"lastPolledAt"`
	// LastSuccessAt is the end of the last collection without an error.
	LastSuccessAt *time.Time `json:"lastSuccessAt,omitempty"`
	// LastError is the last collection's error ("" when it succeeded).
	LastError string `json:"lastError,omitempty"`
	// NewTags is how many new tags the last collection sent on.
	NewTags int `json:"newTags"`
}

func artifactRepoPK(serverID, repository string) string {
	return prefArtifact + serverID + "#" + repository
}

func checkArtifactRepo(serverID, repository string) error {
	if serverID == "" || repository == "" || strings.Contains(serverID, "#") {
		return fmt.Errorf("a server id (without #) and a repository are required")
	}
	return nil
}

// SeenTags returns the tags recorded for a repository of a server, keyed by
// tag, and when the repository was last polled (zero: never, so there is no
// baseline).
func (s *Store) SeenTags(ctx context.Context, serverID, repository string) (map[string]SeenTag, time.Time, error) {
	if err := checkArtifactRepo(serverID, repository); err != nil {
		return nil, time.Time{}, fmt.Errorf("seen tags: %w", err)
	}
	items, err := s.all(ctx, query{pkAttr: attrPK, skAttr: attrSK, pk: artifactRepoPK(serverID, repository), forward: true})
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("seen tags of %s: %w", repository, err)
	}
	out := make(map[string]SeenTag, len(items))
	var polled time.Time
	for _, it := range items {
		sk := strAttr(it, attrSK)
		if sk == skRepo {
			if t, err := time.Parse(timeLayoutArt, strAttr(it, attrPolledAt)); err == nil {
				polled = t
			}
			continue
		}
		tag, ok := strings.CutPrefix(sk, prefSeenTag)
		if !ok {
			continue
		}
		st := SeenTag{Tag: tag, Digest: strAttr(it, attrDigest)}
		if t, err := time.Parse(timeLayoutArt, strAttr(it, attrSeenAt)); err == nil {
			st.SeenAt = t
		}
		out[tag] = st
	}
	return out, polled, nil
}

// RecordTag records that tag pointed to digest when seen; digest may be ""
// (unknown, e.g. for a baseline that lists names only).
func (s *Store) RecordTag(ctx context.Context, serverID, repository, tag, digest string) error {
	if err := checkArtifactRepo(serverID, repository); err != nil {
		return fmt.Errorf("record tag: %w", err)
	}
	if tag == "" {
		return fmt.Errorf("record tag: a tag is required")
	}
	item := key(artifactRepoPK(serverID, repository), prefSeenTag+tag)
	if digest != "" {
		item[attrDigest] = avS(digest)
	}
	item[attrSeenAt] = avS(s.clock().Format(timeLayoutArt))
	if _, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: tableName(s.table), Item: item}); err != nil {
		return fmt.Errorf("record tag %s:%s: %w", repository, tag, err)
	}
	return nil
}

// MarkPolled records that a repository has just been polled: the tags
// seen so far are its baseline, and tags that appear later are new.
func (s *Store) MarkPolled(ctx context.Context, serverID, repository string) error {
	if err := checkArtifactRepo(serverID, repository); err != nil {
		return fmt.Errorf("mark polled: %w", err)
	}
	item := key(artifactRepoPK(serverID, repository), skRepo)
	item[attrPolledAt] = avS(s.clock().Format(timeLayoutArt))
	if _, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: tableName(s.table), Item: item}); err != nil {
		return fmt.Errorf("mark %s polled: %w", repository, err)
	}
	return nil
}

// PutCollectStatus records a server's last collection outcome.
func (s *Store) PutCollectStatus(ctx context.Context, st CollectStatus) error {
	if st.ServerID == "" {
		return fmt.Errorf("put collect status: a server id is required")
	}
	doc, err := attributevalue.MarshalWithOptions(st, encOpts)
	if err != nil {
		return fmt.Errorf("put collect status: %w", err)
	}
	item := key(prefArtifact+st.ServerID, skCollect)
	item[attrDoc] = prune(doc)
	if _, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: tableName(s.table), Item: item}); err != nil {
		return fmt.Errorf("put collect status of %s: %w", st.ServerID, err)
	}
	return nil
}

// CollectStatus returns a server's last collection outcome; the bool is
// false when it was never collected.
func (s *Store) CollectStatus(ctx context.Context, serverID string) (CollectStatus, bool, error) {
	if serverID == "" {
		return CollectStatus{}, false, fmt.Errorf("collect status: a server id is required")
	}
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: tableName(s.table), Key: key(prefArtifact+serverID, skCollect), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return CollectStatus{}, false, fmt.Errorf("collect status of %s: %w", serverID, err)
	}
	if len(out.Item) == 0 {
		return CollectStatus{}, false, nil
	}
	var st CollectStatus
	if err := attributevalue.UnmarshalWithOptions(out.Item[attrDoc], &st, decOpts); err != nil {
		return CollectStatus{}, false, fmt.Errorf("collect status of %s: %w", serverID, err)
	}
	return st, true, nil
}
