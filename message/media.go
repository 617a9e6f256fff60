package message

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/wecomflow/wecomflow/access"
	"github.com/wecomflow/wecomflow/fetch"
	"github.com/wecomflow/wecomflow/models"
	"github.com/wecomflow/wecomflow/plugin"
	"github.com/wecomflow/wecomflow/plugin/wecom"
	"github.com/wecomflow/wecomflow/problem"
)

// WeCom keeps a temporary media_id for 3 days. A cached one is reused only while it outlives the
// 24 h a message may keep retrying, so no retry sends an expired id.
const (
	mediaLifetime = 3 * 24 * time.Hour
	mediaMargin   = 25 * time.Hour
)

// WeCom's size limits per media type (the stricter reading where its pages disagree).
var mediaLimits = map[string]int64{"image": 5 << 20, "voice": 2 << 20, "video": 10 << 20, "file": 20 << 20}

// MediaView is a stored upload.
type MediaView struct {
	ID             string     `json:"id"`
	Type           string     `json:"type"`
	Filename       string     `json:"filename"`
	Size           int64      `json:"size"`
	MediaID        string     `json:"mediaId"`
	MediaExpiresAt *time.Time `json:"mediaExpiresAt"`
	CreatedAt      time.Time  `json:"createdAt"`
}

func mediaView(m *models.Media) MediaView {
	return MediaView{ID: m.ID, Type: m.Type, Filename: m.Filename, Size: m.Size, MediaID: m.MediaID, MediaExpiresAt: m.MediaExpiresAt, CreatedAt: m.CreatedAt}
}

// UploadMedia stores a file for a channel's app and uploads it to WeCom now; messages then name
// it as "media": {"id": …}, and it is uploaded again whenever its media_id has expired.
func (s *Service) UploadMedia(ctx context.Context, channel, mediaType, filename string, content []byte) (MediaView, error) {
	ch, err := s.store.GetChannelByName(ctx, channel)
	if errors.Is(err, models.ErrNotFound) {
		return MediaView{}, problem.Invalidf("channel", "no channel is named %q", channel)
	}
	if err != nil {
		return MediaView{}, problem.StoreError("Channel", err)
	}
	if err := access.ChannelAllowed(ctx, ch.Name); err != nil {
		return MediaView{}, err
	}
	if err := checkMedia(mediaType, int64(len(content))); err != nil {
		return MediaView{}, err
	}
	sum := sha256.Sum256(content)
	m := &models.Media{ID: ulid.Make().String(), AuthenticatorID: ch.AuthenticatorID, Type: mediaType, Filename: filename,
		Size: int64(len(content)), SHA256: hex.EncodeToString(sum[:]), Content: content}
	// A channel type with its own composer (a robot) sends the file its own way when a message
	// names it; only an app's upload has a media_id to make now.
	if _, composed := s.composer(ch); !composed {
		if err := s.uploadToWeCom(ctx, m); err != nil {
			return MediaView{}, err
		}
	}
	if err := s.store.CreateMedia(ctx, m); err != nil {
		return MediaView{}, problem.StoreError("Media", err)
	}
	return mediaView(m), nil
}

func checkMedia(mediaType string, size int64) error {
	limit, ok := mediaLimits[mediaType]
	switch {
	case !ok:
		return problem.Invalidf("type", "must be image, voice, video or file")
	case size <= 5:
		return problem.Invalidf("file", "must be larger than 5 bytes (WeCom refuses smaller files)")
	case size > limit:
		return problem.Invalidf("file", "is %d bytes; WeCom takes at most %d bytes for %s", size, limit, mediaType)
	}
	return nil
}

// uploadToWeCom uploads m's content and sets its media_id and expiry.
func (s *Service) uploadToWeCom(ctx context.Context, m *models.Media) error {
	app, _, err := s.apps.App(ctx, m.AuthenticatorID)
	if err != nil {
		return err
	}
	id, err := s.clients.Client(app).UploadMedia(ctx, m.Type, m.Filename, m.Content)
	if err != nil {
		return &problem.Error{Code: problem.CodeValidation, Message: "WeCom did not take the file: " + wecom.Reason(err), Err: err,
			Fields: map[string]string{"file": wecom.Reason(err)}}
	}
	exp := s.store.Now().Add(mediaLifetime - mediaMargin)
	m.MediaID, m.MediaExpiresAt = id, &exp
	return nil
}

// resolveMedia turns a media message's "media" source into a media_id before the message is stored:
// it downloads a URL, or uploads a stored file again whose media_id has expired.
func (s *Service) resolveMedia(ctx context.Context, p *parsedSend) error {
	a := p.msg.Attachment()
	if a == nil || a.Media == nil {
		return nil
	}
	field := p.msg.MsgType + ".media"
	var m *models.Media
	var err error
	switch {
	case a.Media.ID != "":
		if m, err = s.storedMedia(ctx, a.Media.ID, p.channel.AuthenticatorID, field+".id"); err != nil {
			return err
		}
		if m.MediaExpiresAt == nil || !m.MediaExpiresAt.After(s.store.Now()) {
			if err := s.uploadToWeCom(ctx, m); err != nil {
				return err
			}
			if err := s.store.SetMediaID(ctx, m.ID, m.MediaID, *m.MediaExpiresAt); err != nil {
				return problem.StoreError("Media", err)
			}
		}
	default:
		if m, err = s.fetchMedia(ctx, p.channel.AuthenticatorID, p.msg.MsgType, a.Media.URL, field+".url"); err != nil {
			return err
		}
	}
	a.MediaID, a.Media = m.MediaID, nil
	return nil
}

// MediaPlaceholder is the media_id a preview shows for a file that is only fetched or uploaded
// when the message is sent.
const MediaPlaceholder = plugin.MediaPlaceholder

// previewMedia is resolveMedia for a preview: a stored upload shows its media_id while it is good,
// anything else the placeholder. Nothing is downloaded or uploaded.
func (s *Service) previewMedia(ctx context.Context, p *parsedSend) error {
	a := p.msg.Attachment()
	if a == nil || a.Media == nil {
		return nil
	}
	a.MediaID = MediaPlaceholder
	if a.Media.ID != "" {
		m, err := s.storedMedia(ctx, a.Media.ID, p.channel.AuthenticatorID, p.msg.MsgType+".media.id")
		if err != nil {
			return err
		}
		if m.MediaExpiresAt != nil && m.MediaExpiresAt.After(s.store.Now()) {
			a.MediaID = m.MediaID
		}
	}
	a.Media = nil
	return nil
}

// storedMedia reads a POST /api/v1/media upload a message names, which must belong to the
// channel's authenticator.
func (s *Service) storedMedia(ctx context.Context, id string, authID uint64, field string) (*models.Media, error) {
	m, err := s.store.GetMedia(ctx, id)
	if errors.Is(err, models.ErrNotFound) {
		return nil, problem.Invalidf(field, "no upload has this id")
	}
	if err != nil {
		return nil, problem.StoreError("Media", err)
	}
	if m.AuthenticatorID != authID {
		return nil, problem.Invalidf(field, "was uploaded for another authenticator's app")
	}
	return m, nil
}

// mediaFetchTimeout bounds downloading a media URL, redirects included.
const mediaFetchTimeout = 30 * time.Second

// fetchMedia downloads a media URL through the server's fetcher (which refuses internal
// addresses) and uploads it, reusing an upload of the same URL whose media_id is still good.
func (s *Service) fetchMedia(ctx context.Context, authID uint64, mediaType, rawURL, field string) (*models.Media, error) {
	if m, err := s.store.MediaByURL(ctx, authID, rawURL, s.store.Now()); err == nil {
		return m, nil
	}
	name, content, err := s.download(ctx, mediaType, rawURL, field)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(content)
	m := &models.Media{ID: ulid.Make().String(), AuthenticatorID: authID, Type: mediaType, Filename: name, SourceURL: rawURL,
		Size: int64(len(content)), SHA256: hex.EncodeToString(sum[:]), Content: content}
	if err := s.uploadToWeCom(ctx, m); err != nil {
		return nil, err
	}
	if err := s.store.CreateMedia(ctx, m); err != nil {
		return nil, problem.StoreError("Media", err)
	}
	return m, nil
}

// download fetches a media URL through the server's fetcher, within WeCom's size limit for the
// media type, and names the file after the URL's path.
func (s *Service) download(ctx context.Context, mediaType, rawURL, field string) (name string, content []byte, err error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", nil, problem.Invalidf(field, "must be an http(s) URL")
	}
	limit := mediaLimits[mediaType]
	res, err := s.fetcher.Do(ctx, fetch.Request{URL: rawURL, Timeout: mediaFetchTimeout, MaxBytes: limit})
	var fe *fetch.Error
	switch {
	case errors.Is(err, fetch.ErrTooLarge):
		return "", nil, problem.Invalidf(field, "is larger than %d bytes, WeCom's limit for %s", limit, mediaType)
	case errors.As(err, &fe):
		// The cause may name the address dialed: the log gets it, the user only the reason.
		s.log.InfoContext(ctx, "media URL not fetched", "field", field, "host", u.Host, "err", fe.Err)
		reason := fe.Reason
		if !fe.Refused {
			reason = "could not be downloaded: " + reason
		}
		// Not wrapped in the problem: its Error() would carry the cause to whoever prints it.
		return "", nil, problem.Invalidf(field, "%s", reason)
	case err != nil:
		return "", nil, err
	case res.StatusCode != http.StatusOK:
		return "", nil, problem.Invalidf(field, "could not be downloaded: HTTP %d", res.StatusCode)
	}
	if err := checkMedia(mediaType, int64(len(res.Body))); err != nil {
		return "", nil, problem.Invalidf(field, "%s", fmt.Sprint(err.(*problem.Error).Fields["file"]))
	}
	name = path.Base(u.Path)
	if name == "/" || name == "." {
		name = mediaType
	}
	return name, res.Body, nil
}
