package awsemu

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"
)

type ecrState struct {
	repos map[string]*repo
	order []string
}

type repo struct {
	r      ecrtypes.Repository
	images map[string]*image // by digest
	order  []string          // digests in push order
	tags   map[string]string // tag -> digest
}

type image struct {
	manifest  string
	mediaType string
	digest    string
	pushedAt  time.Time
	size      int64
}

func newECRState() ecrState { return ecrState{repos: map[string]*repo{}} }

var ecrOps = map[string]opSpec{
	"CreateRepository":      writeOp((*world).ecrCreateRepository),
	"DescribeRepositories":  readOp((*world).ecrDescribeRepositories),
	"PutImage":              writeOp((*world).ecrPutImage),
	"DescribeImages":        readOp((*world).ecrDescribeImages),
	"BatchGetImage":         readOp((*world).ecrBatchGetImage),
	"ListImages":            readOp((*world).ecrListImages),
	"BatchDeleteImage":      writeOp((*world).ecrBatchDeleteImage),
	"GetAuthorizationToken": readOp((*world).ecrGetAuthorizationToken),
}

var repoNameRE = regexp.MustCompile(`^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$`)

func (w *world) registryHost() string {
	return w.acct + ".dkr.ecr." + w.region + ".amazonaws.com"
}

func (w *world) ecrCreateRepository(in *ecr.CreateRepositoryInput) (*ecr.CreateRepositoryOutput, error) {
	name := aws.ToString(in.RepositoryName)
	if len(name) < 2 || len(name) > 256 || !repoNameRE.MatchString(name) {
		return nil, errf("InvalidParameterException", "Invalid parameter at 'repositoryName' failed to satisfy constraint: 'must satisfy regular expression '%s''", repoNameRE.String())
	}
	if _, ok := w.ecr.repos[name]; ok {
		return nil, errf("RepositoryAlreadyExistsException", "The repository with name '%s' already exists in the registry with id '%s'", name, w.acct)
	}
	r := w.createRepo(name)
	if in.ImageTagMutability != "" {
		r.r.ImageTagMutability = in.ImageTagMutability
	}
	if in.ImageScanningConfiguration != nil {
		r.r.ImageScanningConfiguration = in.ImageScanningConfiguration
	}
	v := r.r
	return &ecr.CreateRepositoryOutput{Repository: &v}, nil
}

func (w *world) createRepo(name string) *repo {
	r := &repo{images: map[string]*image{}, tags: map[string]string{}}
	r.r = ecrtypes.Repository{
		RepositoryArn:              aws.String(w.arn("ecr", "repository/"+name)),
		RegistryId:                 aws.String(w.acct),
		RepositoryName:             aws.String(name),
		RepositoryUri:              aws.String(w.registryHost() + "/" + name),
		CreatedAt:                  ptrTime(w.now()),
		ImageTagMutability:         ecrtypes.ImageTagMutabilityMutable,
		ImageScanningConfiguration: &ecrtypes.ImageScanningConfiguration{ScanOnPush: false},
		EncryptionConfiguration:    &ecrtypes.EncryptionConfiguration{EncryptionType: ecrtypes.EncryptionTypeAes256},
	}
	w.ecr.repos[name] = r
	w.ecr.order = append(w.ecr.order, name)
	return r
}

func (w *world) repo(name *string) (*repo, error) {
	r, ok := w.ecr.repos[aws.ToString(name)]
	if !ok {
		return nil, errf("RepositoryNotFoundException", "The repository with name '%s' does not exist in the registry with id '%s'", aws.ToString(name), w.acct)
	}
	return r, nil
}

func (w *world) ecrDescribeRepositories(in *ecr.DescribeRepositoriesInput) (*ecr.DescribeRepositoriesOutput, error) {
	var names []string
	if len(in.RepositoryNames) > 0 {
		for _, n := range in.RepositoryNames {
			if _, err := w.repo(aws.String(n)); err != nil {
				return nil, err
			}
			names = append(names, n)
		}
	} else {
		names = append(names, w.ecr.order...)
	}
	s, e, next, err := page(len(names), in.NextToken, in.MaxResults, 100, 1000)
	if err != nil {
		return nil, err
	}
	out := &ecr.DescribeRepositoriesOutput{Repositories: []ecrtypes.Repository{}, NextToken: next}
	for _, n := range names[s:e] {
		out.Repositories = append(out.Repositories, w.ecr.repos[n].r)
	}
	return out, nil
}

// manifestMediaType reads mediaType from a manifest, if present.
func manifestMediaType(m string) string {
	var v struct {
		MediaType string `json:"mediaType"`
		Config    struct {
			MediaType string `json:"mediaType"`
		} `json:"config"`
	}
	if json.Unmarshal([]byte(m), &v) != nil {
		return ""
	}
	return v.MediaType
}

func (w *world) ecrPutImage(in *ecr.PutImageInput) (*ecr.PutImageOutput, error) {
	r, err := w.repo(in.RepositoryName)
	if err != nil {
		return nil, err
	}
	img, err := w.putImage(r, aws.ToString(in.ImageManifest), aws.ToString(in.ImageManifestMediaType), aws.ToString(in.ImageTag), aws.ToString(in.ImageDigest))
	if err != nil {
		return nil, err
	}
	return &ecr.PutImageOutput{Image: &ecrtypes.Image{
		RegistryId: r.r.RegistryId, RepositoryName: r.r.RepositoryName,
		ImageId:       &ecrtypes.ImageIdentifier{ImageDigest: aws.String(img.digest), ImageTag: in.ImageTag},
		ImageManifest: aws.String(img.manifest), ImageManifestMediaType: aws.String(img.mediaType),
	}}, nil
}

func (w *world) putImage(r *repo, manifest, mediaType, tag, digest string) (*image, error) {
	if manifest == "" {
		return nil, errf("InvalidParameterException", "imageManifest must not be empty.")
	}
	if len(manifest) > 4<<20 {
		return nil, errf("InvalidParameterException", "imageManifest is larger than 4 MiB.")
	}
	var probe any
	if json.Unmarshal([]byte(manifest), &probe) != nil {
		return nil, errf("InvalidParameterException", "Invalid parameter at 'ImageManifest' failed to satisfy constraint: 'Invalid JSON syntax'")
	}
	if len(tag) > 300 {
		return nil, errf("InvalidParameterException", "imageTag is longer than 300 characters.")
	}
	sum := sha256.Sum256([]byte(manifest))
	got := "sha256:" + hex.EncodeToString(sum[:])
	if digest != "" && digest != got {
		return nil, errf("ImageDigestDoesNotMatchException", "The provided digest %s does not match the digest of the manifest %s.", digest, got)
	}
	if mt := manifestMediaType(manifest); mt != "" {
		if mediaType != "" && mediaType != mt {
			return nil, errf("InvalidParameterException", "imageManifestMediaType %s does not match the manifest's mediaType %s.", mediaType, mt)
		}
		mediaType = mt
	}
	if mediaType == "" {
		return nil, errf("InvalidParameterException", "imageManifestMediaType is required when the manifest has no mediaType.")
	}
	if tag != "" {
		if cur, ok := r.tags[tag]; ok {
			if cur == got {
				return nil, errf("ImageAlreadyExistsException", "Image with digest '%s' and tag '%s' already exists in the repository with name '%s' in registry with id '%s'", got, tag, aws.ToString(r.r.RepositoryName), w.acct)
			}
			if r.r.ImageTagMutability == ecrtypes.ImageTagMutabilityImmutable {
				return nil, errf("ImageTagAlreadyExistsException", "The image tag '%s' already exists in the '%s' repository and cannot be overwritten because the repository is immutable.", tag, aws.ToString(r.r.RepositoryName))
			}
		}
	}
	img, ok := r.images[got]
	if !ok {
		img = &image{manifest: manifest, mediaType: mediaType, digest: got, pushedAt: w.now(), size: int64(len(manifest)) * 4096}
		r.images[got] = img
		r.order = append(r.order, got)
	}
	if tag != "" {
		r.tags[tag] = got
	}
	w.event(SourceECR, DetailTypeECRImageAction, []string{}, ecrDetail{
		Result: "SUCCESS", RepositoryName: aws.ToString(r.r.RepositoryName), ImageDigest: got, ActionType: "PUSH",
		ImageTag: tag, ManifestMediaType: mediaType, ArtifactMediaType: "application/vnd.docker.container.image.v1+json",
	})
	return img, nil
}

type ecrDetail struct {
	Result            string `json:"result"`
	RepositoryName    string `json:"repository-name"`
	ImageDigest       string `json:"image-digest"`
	ActionType        string `json:"action-type"`
	ImageTag          string `json:"image-tag,omitempty"`
	ManifestMediaType string `json:"manifest-media-type"`
	ArtifactMediaType string `json:"artifact-media-type"`
}

// pushImage stores a generated image for the control API.
func (w *world) pushImage(name, tag string) (string, error) {
	if len(name) < 2 || !repoNameRE.MatchString(name) {
		return "", errf("InvalidParameterException", "invalid repository name %q", name)
	}
	if tag == "" {
		tag = "latest"
	}
	r, ok := w.ecr.repos[name]
	if !ok {
		r = w.createRepo(name)
	}
	cfg := sha256.Sum256([]byte(fmt.Sprintf("%s:%s@%d", name, tag, w.rng.Int64())))
	layer := sha256.Sum256(cfg[:])
	manifest := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":{"mediaType":"application/vnd.docker.container.image.v1+json","size":1470,"digest":"sha256:%s"},"layers":[{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","size":3370706,"digest":"sha256:%s"}]}`,
		hex.EncodeToString(cfg[:]), hex.EncodeToString(layer[:]))
	img, err := w.putImage(r, manifest, "", tag, "")
	if err != nil {
		return "", err
	}
	return img.digest, nil
}

// ecrDigest returns the digest of an image reference in this registry.
func (w *world) ecrDigest(ref string) string {
	rest, ok := strings.CutPrefix(ref, w.registryHost()+"/")
	if !ok {
		return ""
	}
	if name, dg, ok := strings.Cut(rest, "@"); ok {
		if r := w.ecr.repos[name]; r != nil && r.images[dg] != nil {
			return dg
		}
		return ""
	}
	name, tag := rest, "latest"
	if i := strings.LastIndexByte(rest, ':'); i >= 0 {
		name, tag = rest[:i], rest[i+1:]
	}
	if r := w.ecr.repos[name]; r != nil {
		return r.tags[tag]
	}
	return ""
}

// imageNames is ref and, for an image of this registry pinned to a digest,
// the same image under each tag that digest was pushed as: a fault rule
// written for "web:v1.0.1-broken" also hits the deployment that pinned that
// push to "web@sha256:...".
func (w *world) imageNames(ref string) []string {
	names := []string{ref}
	rest, ok := strings.CutPrefix(ref, w.registryHost()+"/")
	if !ok {
		return names
	}
	name, dg, ok := strings.Cut(rest, "@")
	if !ok {
		return names
	}
	if r := w.ecr.repos[name]; r != nil {
		for _, t := range r.tagsOf(dg) {
			names = append(names, w.registryHost()+"/"+name+":"+t)
		}
	}
	return names
}

func (r *repo) tagsOf(digest string) []string {
	var tags []string
	for t, d := range r.tags {
		if d == digest {
			tags = append(tags, t)
		}
	}
	sort.Strings(tags)
	return tags
}

func (r *repo) find(id ecrtypes.ImageIdentifier) *image {
	if d := aws.ToString(id.ImageDigest); d != "" {
		img := r.images[d]
		if img != nil && id.ImageTag != nil && r.tags[*id.ImageTag] != d {
			return nil
		}
		return img
	}
	if t := aws.ToString(id.ImageTag); t != "" {
		return r.images[r.tags[t]]
	}
	return nil
}

func (w *world) ecrDescribeImages(in *ecr.DescribeImagesInput) (*ecr.DescribeImagesOutput, error) {
	r, err := w.repo(in.RepositoryName)
	if err != nil {
		return nil, err
	}
	var imgs []*image
	if len(in.ImageIds) > 0 {
		for _, id := range in.ImageIds {
			img := r.find(id)
			if img == nil {
				return nil, errf("ImageNotFoundException", "The image with imageId {imageDigest:'%s', imageTag:'%s'} does not exist within the repository with name '%s' in the registry with id '%s'",
					aws.ToString(id.ImageDigest), aws.ToString(id.ImageTag), aws.ToString(r.r.RepositoryName), w.acct)
			}
			imgs = append(imgs, img)
		}
	} else {
		for _, d := range r.order {
			img := r.images[d]
			tagged := len(r.tagsOf(d)) > 0
			if in.Filter != nil && (in.Filter.TagStatus == ecrtypes.TagStatusTagged && !tagged || in.Filter.TagStatus == ecrtypes.TagStatusUntagged && tagged) {
				continue
			}
			imgs = append(imgs, img)
		}
	}
	s, e, next, err := page(len(imgs), in.NextToken, in.MaxResults, 100, 1000)
	if err != nil {
		return nil, err
	}
	out := &ecr.DescribeImagesOutput{ImageDetails: []ecrtypes.ImageDetail{}, NextToken: next}
	for _, img := range imgs[s:e] {
		out.ImageDetails = append(out.ImageDetails, ecrtypes.ImageDetail{
			RegistryId: r.r.RegistryId, RepositoryName: r.r.RepositoryName, ImageDigest: aws.String(img.digest),
			ImageTags: r.tagsOf(img.digest), ImageSizeInBytes: aws.Int64(img.size), ImagePushedAt: ptrTime(img.pushedAt),
			ImageManifestMediaType: aws.String(img.mediaType), ArtifactMediaType: aws.String("application/vnd.docker.container.image.v1+json"),
			ImageStatus: ecrtypes.ImageStatusActive,
		})
	}
	return out, nil
}

func (w *world) ecrBatchGetImage(in *ecr.BatchGetImageInput) (*ecr.BatchGetImageOutput, error) {
	r, err := w.repo(in.RepositoryName)
	if err != nil {
		return nil, err
	}
	if len(in.ImageIds) == 0 || len(in.ImageIds) > 100 {
		return nil, errf("InvalidParameterException", "imageIds must have between 1 and 100 items.")
	}
	out := &ecr.BatchGetImageOutput{Images: []ecrtypes.Image{}, Failures: []ecrtypes.ImageFailure{}}
	for _, id := range in.ImageIds {
		img := r.find(id)
		if img == nil {
			code := ecrtypes.ImageFailureCodeImageNotFound
			reason := "Requested image not found"
			out.Failures = append(out.Failures, ecrtypes.ImageFailure{ImageId: &ecrtypes.ImageIdentifier{ImageDigest: id.ImageDigest, ImageTag: id.ImageTag}, FailureCode: code, FailureReason: aws.String(reason)})
			continue
		}
		tag := id.ImageTag
		if tag == nil {
			if ts := r.tagsOf(img.digest); len(ts) > 0 {
				tag = aws.String(ts[0])
			}
		}
		out.Images = append(out.Images, ecrtypes.Image{
			RegistryId: r.r.RegistryId, RepositoryName: r.r.RepositoryName,
			ImageId:       &ecrtypes.ImageIdentifier{ImageDigest: aws.String(img.digest), ImageTag: tag},
			ImageManifest: aws.String(img.manifest), ImageManifestMediaType: aws.String(img.mediaType),
		})
	}
	return out, nil
}

func (w *world) ecrListImages(in *ecr.ListImagesInput) (*ecr.ListImagesOutput, error) {
	r, err := w.repo(in.RepositoryName)
	if err != nil {
		return nil, err
	}
	var ids []ecrtypes.ImageIdentifier
	for _, d := range r.order {
		tags := r.tagsOf(d)
		status := ecrtypes.TagStatus("")
		if in.Filter != nil {
			status = in.Filter.TagStatus
		}
		if len(tags) == 0 {
			if status != ecrtypes.TagStatusTagged {
				ids = append(ids, ecrtypes.ImageIdentifier{ImageDigest: aws.String(d)})
			}
			continue
		}
		if status == ecrtypes.TagStatusUntagged {
			continue
		}
		for _, t := range tags {
			ids = append(ids, ecrtypes.ImageIdentifier{ImageDigest: aws.String(d), ImageTag: aws.String(t)})
		}
	}
	s, e, next, err := page(len(ids), in.NextToken, in.MaxResults, 100, 1000)
	if err != nil {
		return nil, err
	}
	return &ecr.ListImagesOutput{ImageIds: append([]ecrtypes.ImageIdentifier{}, ids[s:e]...), NextToken: next}, nil
}

func (w *world) ecrBatchDeleteImage(in *ecr.BatchDeleteImageInput) (*ecr.BatchDeleteImageOutput, error) {
	r, err := w.repo(in.RepositoryName)
	if err != nil {
		return nil, err
	}
	if len(in.ImageIds) == 0 || len(in.ImageIds) > 100 {
		return nil, errf("InvalidParameterException", "imageIds must have between 1 and 100 items.")
	}
	out := &ecr.BatchDeleteImageOutput{ImageIds: []ecrtypes.ImageIdentifier{}, Failures: []ecrtypes.ImageFailure{}}
	for _, id := range in.ImageIds {
		img := r.find(id)
		if img == nil {
			out.Failures = append(out.Failures, ecrtypes.ImageFailure{ImageId: &ecrtypes.ImageIdentifier{ImageDigest: id.ImageDigest, ImageTag: id.ImageTag},
				FailureCode: ecrtypes.ImageFailureCodeImageNotFound, FailureReason: aws.String("Requested image not found")})
			continue
		}
		if id.ImageTag != nil && id.ImageDigest == nil {
			// Deleting by tag removes the tag; the image goes with its last tag.
			delete(r.tags, *id.ImageTag)
			out.ImageIds = append(out.ImageIds, ecrtypes.ImageIdentifier{ImageDigest: aws.String(img.digest), ImageTag: id.ImageTag})
			if len(r.tagsOf(img.digest)) > 0 {
				continue
			}
		} else {
			for _, t := range r.tagsOf(img.digest) {
				delete(r.tags, t)
				out.ImageIds = append(out.ImageIds, ecrtypes.ImageIdentifier{ImageDigest: aws.String(img.digest), ImageTag: aws.String(t)})
			}
		}
		delete(r.images, img.digest)
		r.order = removeString(r.order, img.digest)
	}
	return out, nil
}

func (w *world) ecrGetAuthorizationToken(*ecr.GetAuthorizationTokenInput) (*ecr.GetAuthorizationTokenOutput, error) {
	tok := base64.StdEncoding.EncodeToString([]byte("AWS:emulator-password"))
	return &ecr.GetAuthorizationTokenOutput{AuthorizationData: []ecrtypes.AuthorizationData{{
		AuthorizationToken: aws.String(tok),
		ExpiresAt:          ptrTime(w.now().Add(12 * time.Hour)),
		ProxyEndpoint:      aws.String("https://" + w.registryHost()),
	}}}, nil
}
