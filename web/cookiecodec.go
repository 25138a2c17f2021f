package web

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/gorilla/securecookie"
)

// sessionSerializer writes the session cookie's values in a small binary
// form instead of gob. Every browser request decodes the cookie, and gob
// builds its type machinery afresh for each decoder: that was about 7% of
// the server's CPU on a cheap page. The cookie holds string keys with
// string, int64 or string-list (flash) values; anything else, and cookies
// written before this format, go through gob as before.
//
// The bytes are authenticated (HMAC) and encrypted by securecookie before
// they reach Deserialize, so only this server's own output is decoded; the
// decoder still checks every length.
type sessionSerializer struct{ gob securecookie.GobEncoder }

// sessionMagic starts the binary form. A gob stream never starts with a
// zero byte (it would be a message of length 0).
const sessionMagic = "\x00gh1"

const (
	tagString = 's'
	tagInt    = 'i'
	tagList   = 'l'
)

// Serialize encodes a session's values.
func (z sessionSerializer) Serialize(src any) ([]byte, error) {
	m, ok := src.(map[any]any)
	if !ok {
		return z.gob.Serialize(src)
	}
	b := make([]byte, 0, 128)
	b = append(b, sessionMagic...)
	for k, v := range m {
		key, ok := k.(string)
		if !ok {
			return z.gob.Serialize(src)
		}
		switch v := v.(type) {
		case string:
			b = append(b, tagString)
			b = appendString(appendString(b, key), v)
		case int64:
			b = append(b, tagInt)
			b = binary.AppendVarint(appendString(b, key), v)
		case []any:
			b = append(b, tagList)
			b = binary.AppendUvarint(appendString(b, key), uint64(len(v)))
			for _, e := range v {
				s, ok := e.(string)
				if !ok {
					return z.gob.Serialize(src)
				}
				b = appendString(b, s)
			}
		default:
			return z.gob.Serialize(src)
		}
	}
	return b, nil
}

// Deserialize decodes what Serialize (or gob) wrote into dst, a
// *map[any]any.
func (z sessionSerializer) Deserialize(src []byte, dst any) error {
	if len(src) < len(sessionMagic) || string(src[:len(sessionMagic)]) != sessionMagic {
		return z.gob.Deserialize(src, dst)
	}
	pm, ok := dst.(*map[any]any)
	if !ok {
		return fmt.Errorf("session cookie: cannot decode into %T", dst)
	}
	if *pm == nil {
		*pm = map[any]any{}
	}
	m := *pm
	r := reader{b: src[len(sessionMagic):]}
	for len(r.b) > 0 && r.err == nil {
		tag := r.b[0]
		r.b = r.b[1:]
		key := r.string()
		switch tag {
		case tagString:
			m[key] = r.string()
		case tagInt:
			m[key] = r.varint()
		case tagList:
			n := r.uvarint()
			if n > uint64(len(r.b)) { // each element takes at least a byte
				return errBadSession
			}
			l := make([]any, 0, n)
			for i := uint64(0); i < n && r.err == nil; i++ {
				l = append(l, r.string())
			}
			m[key] = l
		default:
			return errBadSession
		}
	}
	return r.err
}

var errBadSession = errors.New("session cookie: malformed")

func appendString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

// reader walks the binary form; the first failure sticks in err.
type reader struct {
	b   []byte
	err error
}

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = errBadSession
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) varint() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.err = errBadSession
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) string() string {
	n := r.uvarint()
	if r.err != nil {
		return ""
	}
	if n > uint64(len(r.b)) {
		r.err = errBadSession
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}
