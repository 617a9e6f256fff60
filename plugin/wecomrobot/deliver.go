package wecomrobot

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/wecomflow/wecomflow/models"
	"github.com/wecomflow/wecomflow/plugin"
	"github.com/wecomflow/wecomflow/plugin/wecom"
)

// Channels is what the deliverer reads of the store.
type Channels interface {
	GetChannel(ctx context.Context, id uint64) (*models.Channel, error)
}

// keyCacheTTL is how long a robot's key is reused; a changed key reaches the sends within it.
const keyCacheTTL = 10 * time.Second

// Deliverer sends robot messages for the server's sender, paced per robot by the limiter the
// app messages share (so the instances' share of WeCom's limits applies to both).
type Deliverer struct {
	clients  *wecom.Clients
	limiter  *wecom.Limiter
	channels Channels
	mu       sync.Mutex
	keys     map[uint64]cachedKey
}

type cachedKey struct {
	key string
	at  time.Time
}

// NewDeliverer makes the deliverer of robot messages.
func NewDeliverer(clients *wecom.Clients, limiter *wecom.Limiter, channels Channels) *Deliverer {
	return &Deliverer{clients: clients, limiter: limiter, channels: channels, keys: map[uint64]cachedKey{}}
}

// Deliver posts a message to its robot once the robot's minute has room. A robot has no
// duplicate check: a request whose sender died after WeCom took it is sent again (at least once).
func (d *Deliverer) Deliver(ctx context.Context, r *models.MessageRequest, m *models.Message, now time.Time) (*wecom.SendResult, time.Time, error) {
	key, err := d.key(ctx, m.ChannelID)
	if err != nil {
		return nil, time.Time{}, err
	}
	if free, ok := d.limiter.TakeRobot(m.ChannelID, now); !ok {
		return nil, free, nil
	}
	body := make([]byte, 0, len(m.Body)+len(m.MsgType)*2+24)
	body = fmt.Appendf(body, `{"msgtype":%q,%q:`, m.MsgType, m.MsgType)
	body = append(append(body, m.Body...), '}')
	res, err := d.clients.RobotSend(ctx, key, body)
	return res, time.Time{}, err
}

// Sent notes a robot's send from before this process started.
func (d *Deliverer) Sent(r models.RecentSend) { d.limiter.RecordRobot(r.ChannelID, r.SentAt) }

// key is the channel's webhook key, read at most every keyCacheTTL.
func (d *Deliverer) key(ctx context.Context, channelID uint64) (string, error) {
	d.mu.Lock()
	c, ok := d.keys[channelID]
	d.mu.Unlock()
	if ok && time.Since(c.at) < keyCacheTTL {
		return c.key, nil
	}
	ch, err := d.channels.GetChannel(ctx, channelID)
	switch {
	case errors.Is(err, models.ErrNotFound):
		return "", fmt.Errorf("%w: its robot channel was deleted", wecom.ErrCannotSend)
	case err != nil:
		return "", err
	}
	key := plugin.ParseSecrets(ch.Secrets.Plain)["webhookKey"]
	if key == "" {
		return "", fmt.Errorf("%w: the robot channel %q has no webhook key", wecom.ErrCannotSend, ch.Name)
	}
	d.mu.Lock()
	d.keys[channelID] = cachedKey{key: key, at: time.Now()}
	d.mu.Unlock()
	return key, nil
}
