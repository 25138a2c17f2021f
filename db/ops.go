package db

import (
	"context"
	"fmt"
)

// MailQueueCounts is the outbox by delivery state.
type MailQueueCounts struct {
	Pending  int64 `db:"pending"`
	Retrying int64 `db:"retrying"`
	Failed   int64 `db:"failed"`
	Sent     int64 `db:"sent"`
}

// MailQueueStats counts the outbox for the metrics scrape.
func (s *Store) MailQueueStats(ctx context.Context) (MailQueueCounts, error) {
	var c MailQueueCounts
	err := s.db.GetContext(ctx, &c, `SELECT
			count(*) FILTER (WHERE status = 'pending') AS pending,
			count(*) FILTER (WHERE status = 'pending' AND attempts > 0) AS retrying,
			count(*) FILTER (WHERE status = 'failed') AS failed,
			count(*) FILTER (WHERE status = 'sent') AS sent
		FROM outbox`)
	if err != nil {
		return c, fmt.Errorf("mail queue stats: %w", err)
	}
	return c, nil
}
