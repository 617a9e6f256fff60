package service

import (
	"context"
	"errors"

	"github.com/wecomflow/wecomflow/plugin/wecom"
)

// CheckResult is the outcome of an authenticator's connection check.
type CheckResult struct {
	OK      bool   `json:"ok"`
	ErrCode int64  `json:"errcode,omitempty"`
	ErrMsg  string `json:"errmsg,omitempty"`
	// Hint says what to do about the error, e.g. which IP to add to 企业可信IP for 60020.
	Hint    string `json:"hint,omitempty"`
	Message string `json:"message"`
}

// CheckAuthenticator fetches a fresh token with the authenticator's credentials: the test that
// the corp ID, secret and this server's IP are all accepted by WeCom.
func (s *Service) CheckAuthenticator(ctx context.Context, id uint64) (CheckResult, error) {
	app, _, err := s.apps.App(ctx, id)
	if err != nil {
		return CheckResult{}, err
	}
	err = s.clients.Client(app).Check(ctx)
	var ae *wecom.APIError
	switch {
	case err == nil:
		return CheckResult{OK: true, Message: "WeCom accepted the corp ID and secret."}, nil
	case errors.As(err, &ae):
		return CheckResult{ErrCode: ae.Code, ErrMsg: ae.Msg, Hint: wecom.Hint(ae.Code, ae.Msg), Message: wecom.Reason(err)}, nil
	default:
		return CheckResult{Message: wecom.Reason(err)}, nil
	}
}
