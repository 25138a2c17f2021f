package api

import (
	"bytes"
	"strings"
	"sync"

	"github.com/klauspost/compress/gzip"
)

// teamAnswers keeps the encoded answers of GET /api/orgs/{org}/teams/{id}
// for teams with many grants (API.md sends all 2,000 of the large data
// set's team by default: 430 KB of JSON to read, encode and gzip on every
// call, 19 KB compressed). An answer is kept under the team's grants
// version (which every change to its grants moves, in the same
// transaction, 00015) and served again, already compressed, while the
// version holds and the rest of the answer (the team and its members, read
// on every call) is byte for byte the same. The version is read before the
// grants, so a kept answer is never older than the version it is kept
// under. The zero value is ready; it holds at most teamAnswersMax bytes.
type teamAnswers struct {
	mu       sync.Mutex
	m        map[teamAnswerKey]*teamAnswer
	order    []teamAnswerKey // oldest first
	size     int
	building map[teamAnswerKey]chan struct{} // closed when the answer is kept (or its build failed)
}

// answer returns the answer kept for k if its head is head, or builds it
// with build and keeps it. Calls that find k being built wait for that
// build instead of building the same answer again: a burst of calls after a
// change (or at start) would otherwise each read, encode and compress the
// 2,000 grants. A waiter whose head differs, or whose builder failed,
// builds its own.
func (c *teamAnswers) answer(k teamAnswerKey, head []byte, build func() ([]byte, error)) (*teamAnswer, error) {
	for waited := false; ; waited = true {
		c.mu.Lock()
		if a := c.m[k]; a != nil && bytes.Equal(a.head, head) {
			c.mu.Unlock()
			return a, nil
		}
		ch, busy := c.building[k]
		if !busy || waited {
			break // c.mu held
		}
		c.mu.Unlock()
		<-ch
	}
	// c.mu is held here.
	ch, busy := c.building[k]
	if !busy {
		ch = make(chan struct{})
		if c.building == nil {
			c.building = map[teamAnswerKey]chan struct{}{}
		}
		c.building[k] = ch
	}
	c.mu.Unlock()
	body, err := build()
	var a *teamAnswer
	if err == nil {
		a = c.put(k, head, body)
	}
	if !busy {
		c.mu.Lock()
		delete(c.building, k)
		c.mu.Unlock()
		close(ch)
	}
	return a, err
}

type teamAnswerKey struct {
	team, version int64
	page, perPage int
}

type teamAnswer struct {
	head []byte // the answer up to its grants: the team and its members
	body []byte // the whole answer
	gz   []byte // body, gzip-compressed
}

const (
	// teamAnswersMin is the fewest grants an answer needs to be kept: a
	// small team's answer costs little to build.
	teamAnswersMin = 100
	// teamAnswersMax bounds the bytes kept (the oldest answers go first).
	teamAnswersMax = 16 << 20
)

// put keeps body (whose first bytes are head) under k, compressed once
// here, and returns it.
func (c *teamAnswers) put(k teamAnswerKey, head, body []byte) *teamAnswer {
	var gz bytes.Buffer
	w, _ := gzip.NewWriterLevel(&gz, gzip.DefaultCompression)
	_, _ = w.Write(body)
	_ = w.Close()
	a := &teamAnswer{head: head, body: body, gz: gz.Bytes()}
	n := len(head) + len(body) + len(a.gz)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[teamAnswerKey]*teamAnswer{}
	}
	if old := c.m[k]; old != nil {
		c.size -= len(old.head) + len(old.body) + len(old.gz)
	} else {
		c.order = append(c.order, k)
	}
	// Older versions of the same team's answer are dead: drop them now.
	for i := 0; i < len(c.order); i++ {
		o := c.order[i]
		if o.team == k.team && o.version < k.version {
			c.drop(i)
			i--
		}
	}
	c.m[k] = a
	c.size += n
	for c.size > teamAnswersMax && len(c.order) > 1 {
		c.drop(0)
	}
	return a
}

// drop forgets the answer at c.order[i] (mu held).
func (c *teamAnswers) drop(i int) {
	k := c.order[i]
	if a := c.m[k]; a != nil {
		c.size -= len(a.head) + len(a.body) + len(a.gz)
		delete(c.m, k)
	}
	c.order = append(c.order[:i], c.order[i+1:]...)
}

// acceptsGzip reads Accept-Encoding as the compress middleware does: gzip
// listed without q=0.
func acceptsGzip(h string) bool {
	for _, part := range strings.Split(h, ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(name), "gzip") {
			q := strings.ReplaceAll(strings.TrimSpace(params), " ", "")
			return q != "q=0" && q != "q=0.0" && q != "q=0.00" && q != "q=0.000"
		}
	}
	return false
}
