package db

import (
	"context"
	"fmt"
	"time"

	"guildhall/db/model"
)

// MaxMailAttempts is how often delivery is tried before a message is marked failed.
const MaxMailAttempts = 8

// SaveOutbox keeps a message in the outbox only (dev mode without SMTP).
func (s *Store) SaveOutbox(ctx context.Context, m model.Mail) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO outbox (to_addr, subject, text_body, html_body, created_at, status)
		VALUES ($1, $2, $3, $4, $5, 'kept')`, m.To, m.Subject, m.Text, m.HTML, s.Now())
	if err != nil {
		return fmt.Errorf("save outbox mail: %w", err)
	}
	return nil
}

// EnqueueMail queues a message for the delivery worker.
func (s *Store) EnqueueMail(ctx context.Context, m model.Mail) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO outbox (to_addr, subject, text_body, html_body, created_at, status, next_attempt_at)
		VALUES ($1, $2, $3, $4, $5, 'pending', $5)`, m.To, m.Subject, m.Text, m.HTML, s.Now())
	if err != nil {
		return fmt.Errorf("queue mail: %w", err)
	}
	return nil
}

// DeliverDue hands up to limit due messages to send, one transaction each
// batch; a delivered (or finally failed) message keeps its body with the link
// secrets redacted: rows are claimed with SKIP LOCKED, so several servers never send the
// same message twice. A failed send is retried with exponential backoff
// (30 s, 1 min, 2 min, ... at most 1 h) and marked failed after
// MaxMailAttempts. It reports how many messages it handled.
func (s *Store) DeliverDue(ctx context.Context, limit int, send func(model.OutboxMail) error) (int, error) {
	n := 0
	err := s.InTx(ctx, model.Actor{}, func(tx *Tx) error {
		var due []model.OutboxMail
		// The batch size is the caller's constant, never a request's: it
		// is written in, so the cached statement keeps one plan (a LIMIT
		// parameter is estimated at a tenth of the rows).
		q, args := limitArgs(`SELECT id, to_addr, subject, text_body, html_body, created_at, attempts
			FROM outbox WHERE status = 'pending' AND next_attempt_at <= $1
			ORDER BY next_attempt_at, id LIMIT :limit FOR UPDATE SKIP LOCKED`, limit, []any{tx.Now()}, limit)
		err := tx.SelectContext(ctx, &due, q, args...)
		if err != nil {
			return fmt.Errorf("claim mail: %w", err)
		}
		for _, m := range due {
			n++
			if err := send(m); err != nil {
				attempts := m.Attempts + 1
				status := "pending"
				if attempts >= MaxMailAttempts {
					status = "failed"
				}
				backoff := 30 * time.Second << min(attempts-1, 7)
				if backoff > time.Hour {
					backoff = time.Hour
				}
				msg := model.CleanText(err.Error(), 500)
				text, html := m.Text, m.HTML
				if status == "failed" { // never sent again: keep no usable link
					text, html = model.RedactLinkSecrets(text), model.RedactLinkSecrets(html)
				}
				if _, err := tx.ExecContext(ctx, `UPDATE outbox SET attempts = $1, status = $2, last_error = $3, next_attempt_at = $4, text_body = $5, html_body = $6 WHERE id = $7`,
					attempts, status, msg, tx.Now().Add(backoff), text, html, m.ID); err != nil {
					return fmt.Errorf("record mail failure: %w", err)
				}
				continue
			}
			// Delivered: keep the message for the record, without the link
			// secrets, so reading the database gives no usable link.
			if _, err := tx.ExecContext(ctx, `UPDATE outbox SET attempts = attempts + 1, status = 'sent', last_error = '', sent_at = $1,
				text_body = $2, html_body = $3 WHERE id = $4`,
				tx.Now(), model.RedactLinkSecrets(m.Text), model.RedactLinkSecrets(m.HTML), m.ID); err != nil {
				return fmt.Errorf("record mail sent: %w", err)
			}
		}
		return nil
	})
	return n, err
}

// Outbox lists the newest kept messages.
func (s *Store) Outbox(ctx context.Context, limit int) ([]model.OutboxMail, error) {
	var ms []model.OutboxMail
	err := s.db.SelectContext(ctx, &ms, `SELECT id, to_addr, subject, text_body, html_body, created_at, status, attempts, last_error
		FROM outbox ORDER BY id DESC LIMIT $1`, limit)
	if err != nil {
		return nil, fmt.Errorf("list outbox: %w", err)
	}
	return ms, nil
}
