package wecomtest

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"
)

// mediaLifetime is how long a temporary media_id stays usable.
const mediaLifetime = 72 * time.Hour

// mediaLimit is the largest upload per type. API-NOTES says WeCom's pages disagree on images
// (5 vs 10 MB); the simulator enforces the stricter 5 MB.
func mediaLimit(typ string) (int, bool) {
	const mb = 1 << 20
	switch typ {
	case "image":
		return 5 * mb, true
	case "voice":
		return 2 * mb, true
	case "video":
		return 10 * mb, true
	case "file":
		return 20 * mb, true
	}
	return 0, false
}

type uploadResponse struct {
	ErrCode   int    `json:"errcode"`
	ErrMsg    string `json:"errmsg"`
	Type      string `json:"type"`
	MediaID   string `json:"media_id"`
	CreatedAt string `json:"created_at"`
}

// handleMediaUpload is POST /cgi-bin/media/upload?type= with a multipart part "media" that has a
// filename (page 90253). Errcodes: unknown type 40004; no "media" file part 44001 (WeCom's
// "empty media file"); at most 5 bytes or over the type's limit 40006; voice that is not AMR
// 301017. Only the size and name are kept, not the bytes.
func (s *Server) handleMediaUpload(r *http.Request, ip string) any {
	typ := r.URL.Query().Get("type")
	limit, typeOK := mediaLimit(typ)
	size, filename, head, readErr := readMediaPart(r, limit)

	return s.withSession(r, ip, func(sess *session) any {
		switch {
		case sess.app.ContactsSecret:
			return s.fail(codeAPIForbidden, "", ip)
		case !typeOK:
			return s.fail(codeInvalidMediaType, "", ip)
		case readErr != nil:
			return s.fail(codeEmptyMedia, "empty media data: no multipart file part named \"media\"", ip)
		case size <= 5 || size > limit:
			return s.fail(codeInvalidFileSize, "", ip)
		case typ == "voice" && !bytes.HasPrefix(head, []byte("#!AMR")):
			return s.fail(codeVoiceMustBeAMR, "", ip)
		}
		now := s.now()
		id := "3" + s.uniqueID("", 60)
		s.media[id] = &mediaFile{corp: sess.c.info.ID, typ: typ, size: size, filename: filename, created: now}
		return uploadResponse{ErrMsg: "ok", Type: typ, MediaID: id, CreatedAt: strconv.FormatInt(now.Unix(), 10)}
	})
}

// readMediaPart streams the "media" file part, counting at most limit+1 bytes so an oversized
// upload is measured without being held in memory.
func readMediaPart(r *http.Request, limit int) (size int, filename string, head []byte, err error) {
	mr, err := r.MultipartReader()
	if err != nil {
		return 0, "", nil, err
	}
	for {
		p, err := mr.NextPart()
		if err != nil {
			return 0, "", nil, errors.New("no media part")
		}
		if p.FormName() != "media" || p.FileName() == "" {
			continue
		}
		var hb bytes.Buffer
		n, err := io.Copy(io.Discard, io.TeeReader(io.LimitReader(p, int64(limit)+1), &headWriter{buf: &hb, max: 16}))
		if err != nil {
			return 0, "", nil, err
		}
		return int(n), p.FileName(), hb.Bytes(), nil
	}
}

// headWriter keeps the first max bytes written to it (the file's magic number).
type headWriter struct {
	buf *bytes.Buffer
	max int
}

func (h *headWriter) Write(p []byte) (int, error) {
	if room := h.max - h.buf.Len(); room > 0 {
		h.buf.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}
