package mail

import (
	"context"
	"log"
	"time"

	"guildhall/db/model"
)

// QueueStore is what the queue needs of the store.
type QueueStore interface {
	EnqueueMail(ctx context.Context, m model.Mail) error
	DeliverDue(ctx context.Context, limit int, send func(model.OutboxMail) error) (int, error)
}

// Sender delivers one message now (SMTPMailer).
type Sender interface {
	Send(ctx context.Context, m model.Mail) error
}

// Queue is the mailer the app uses with SMTP: Send only queues the message
// in the outbox table, and Run delivers it. A request never waits on, or
// fails because of, the SMTP server; failed deliveries are retried.
type Queue struct {
	Store  QueueStore
	Sender Sender
	// Poll is how often Run looks for due retries (default 5 s).
	Poll time.Duration
	// Logf reports delivery failures (addresses only, never bodies).
	Logf func(format string, a ...any)
	// DrainTimeout bounds the last delivery pass after Run's context ends
	// (default 10 s).
	DrainTimeout time.Duration

	wake chan struct{}
}

// NewQueue makes a queue; call Run in a goroutine.
func NewQueue(store QueueStore, sender Sender) *Queue {
	return &Queue{Store: store, Sender: sender, Poll: 5 * time.Second, Logf: log.Printf, wake: make(chan struct{}, 1)}
}

// Send queues m and wakes the worker.
func (q *Queue) Send(ctx context.Context, m model.Mail) error {
	if err := q.Store.EnqueueMail(ctx, m); err != nil {
		return err
	}
	select {
	case q.wake <- struct{}{}:
	default: // already awake
	}
	return nil
}

// Run delivers queued mail until ctx ends. Cancelling ctx does not cut a
// delivery short (a message sent but not marked sent would go out twice):
// the batch in hand finishes, then one last pass delivers what is due, within
// DrainTimeout, and Run returns.
func (q *Queue) Run(ctx context.Context) {
	t := time.NewTicker(q.Poll)
	defer t.Stop()
	work := context.WithoutCancel(ctx)
	for {
		q.deliverAll(work)
		select {
		case <-ctx.Done():
			d := q.DrainTimeout
			if d == 0 {
				d = 10 * time.Second
			}
			dctx, cancel := context.WithTimeout(work, d)
			q.deliverAll(dctx)
			cancel()
			return
		case <-q.wake:
		case <-t.C:
		}
	}
}

// deliverAll delivers batches until fewer than a full batch is due.
func (q *Queue) deliverAll(ctx context.Context) {
	for {
		n, err := q.Store.DeliverDue(ctx, 20, func(m model.OutboxMail) error {
			err := q.Sender.Send(ctx, model.Mail{To: m.To, Subject: m.Subject, Text: m.Text, HTML: m.HTML})
			if err != nil && q.Logf != nil {
				q.Logf("mail to %s (outbox %d): %v", m.To, m.ID, err)
			}
			return err
		})
		if err != nil {
			if ctx.Err() == nil && q.Logf != nil {
				q.Logf("mail queue: %v", err)
			}
			return
		}
		if n < 20 {
			return
		}
	}
}
