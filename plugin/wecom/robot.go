package wecom

import (
	"context"
	"net/http"
	"net/url"
	"time"
)

// A group robot (群机器人) is called with its webhook key in the URL, which is its only credential:
// no access token. The key goes to the server's WeCom API base only, never to a host a user
// named, so a pasted webhook URL cannot send the key elsewhere.

// robotClient is a client without an app: the calls carry the key themselves.
func (cs *Clients) robotClient() *Client { return cs.Client(App{}) }

// RobotSend posts a webhook/send body for the robot whose key is given.
func (cs *Clients) RobotSend(ctx context.Context, key string, body []byte) (*SendResult, error) {
	var res SendResult
	err := cs.robotClient().do(ctx, "webhook/send", http.MethodPost, cs.base+"/cgi-bin/webhook/send?"+url.Values{"key": {key}}.Encode(),
		"application/json", body, &res)
	return &res, err
}

// RobotUpload uploads a file or voice (webhook/upload_media) for the robot and returns its
// media_id, which only that robot can send (for 3 days).
func (cs *Clients) RobotUpload(ctx context.Context, key, mediaType, filename string, content []byte) (string, error) {
	body, contentType, err := mediaForm(filename, content)
	if err != nil {
		return "", err
	}
	var res uploadResponse
	q := url.Values{"key": {key}, "type": {mediaType}}
	if err := cs.robotClient().do(ctx, "webhook/upload_media", http.MethodPost, cs.base+"/cgi-bin/webhook/upload_media?"+q.Encode(),
		contentType, body, &res); err != nil {
		return "", err
	}
	return res.MediaID, nil
}

// robotPerMinute is WeCom's limit per group robot ("每个机器人发送的消息不能超过20条/分钟"); past it
// WeCom answers 45009 and the message is not shown.
const robotPerMinute = 20

// TakeRobot reserves a send by a robot (by channel id) now when its minute allows one more, or
// says when it will.
func (l *Limiter) TakeRobot(robot uint64, now time.Time) (free time.Time, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	times := prune(l.robots[robot], now)
	perMinute := max(1, robotPerMinute/l.share)
	if n := len(times); n >= perMinute {
		if free = times[n-perMinute].Add(minuteWindow); free.After(now) {
			l.robots[robot] = times
			return free.UTC(), false
		}
	}
	l.robots[robot] = append(times, now)
	return now, true
}

// RecordRobot notes a robot's send that happened elsewhere (seeding after a restart).
func (l *Limiter) RecordRobot(robot uint64, at time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.robots[robot] = append(l.robots[robot], at)
}
