package wecom

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/silenceper/wechat/v2/util"
)

// Finding a member's userid by mobile (page 96267, user/getuserid) or email (page 96268,
// user/get_userid_by_email). WeCom blocks a corp's lookups for the day once the failed ones pass
// 20% of its seats (企业人数上限); the caller keeps count, with LookupBudget and LookupDay.

// Email types of user/get_userid_by_email.
const (
	EmailEnterprise = 1 // 企业邮箱
	EmailPersonal   = 2 // 个人邮箱
)

// LookupFailPercent is the share of the seats a corp's failed lookups may reach in a day; WeCom
// blocks the rest of the day once they pass it.
const LookupFailPercent = 20

// codeNoSuchMember is WeCom's answer for a mobile or email no member has (46004).
const codeNoSuchMember = 46004

// chinaTime is WeCom's day: its daily limits restart at midnight in China (UTC+8, no DST).
var chinaTime = time.FixedZone("CST", 8*60*60)

type userIDResponse struct {
	util.CommonError
	UserID string `json:"userid"`
}

func (r *userIDResponse) errcode() (int64, string) { return r.ErrCode, r.ErrMsg }

// UserIDByMobile asks WeCom whose mobile this is. The app must be allowed to see the member.
func (c *Client) UserIDByMobile(ctx context.Context, mobile string) (string, error) {
	return c.lookupUserID(ctx, "user/getuserid", map[string]any{"mobile": mobile})
}

// UserIDByEmail asks WeCom whose email this is, as enterprise (EmailEnterprise) or personal
// (EmailPersonal) email.
func (c *Client) UserIDByEmail(ctx context.Context, email string, emailType int) (string, error) {
	return c.lookupUserID(ctx, "user/get_userid_by_email", map[string]any{"email": email, "email_type": emailType})
}

func (c *Client) lookupUserID(ctx context.Context, api string, req map[string]any) (string, error) {
	body, _ := json.Marshal(req)
	var res userIDResponse
	if err := c.call(ctx, api, http.MethodPost, nil, "application/json", body, &res); err != nil {
		return "", err
	}
	return res.UserID, nil
}

// LookupNoSuchMember reports whether WeCom said no member has the mobile or email (46004).
func LookupNoSuchMember(err error) bool { return ErrCode(err) == codeNoSuchMember }

// LookupNotFound reports whether err means the mobile or email names nobody this app may send
// to: no such member (46004), one outside the app's visible range (60011), or a mobile or email
// WeCom refuses as malformed (60103, 60105).
func LookupNotFound(err error) bool {
	switch ErrCode(err) {
	case codeNoSuchMember, 60011, 60103, 60105:
		return true
	}
	return false
}

// LookupBlocked reports whether WeCom refused the lookup for frequency (45009): after too many
// failures that is the block for the rest of the day, which cannot be told from a shorter limit.
func LookupBlocked(err error) bool { return ErrCode(err) == 45009 }

// LookupCounted reports whether WeCom may count the failed lookup err towards its block: it
// answered the lookup with an error, or received it and the answer was lost. A token that could
// not be fetched, or a request never sent, asked WeCom nothing.
func LookupCounted(err error) bool {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.API != "gettoken"
	}
	var te *TransportError
	return errors.As(err, &te) && te.API != "gettoken" && te.Sent
}

// LookupBudget is how many failed lookups a corp with seats may make in a day without being
// blocked: WeCom blocks once they are more than LookupFailPercent of the seats.
func LookupBudget(seats int) int { return seats * LookupFailPercent / 100 }

// LookupDay is the day of t that WeCom counts failed lookups in: China's calendar day.
func LookupDay(t time.Time) string { return t.In(chinaTime).Format(time.DateOnly) }

// LookupSeats is the app of an enabled authenticator and the seat count set in its options (0
// when not set), with App's errors.
func (a *Apps) LookupSeats(ctx context.Context, authenticatorID uint64) (App, int, error) {
	app, o, err := a.enabled(ctx, authenticatorID)
	return app, o.Seats, err
}
