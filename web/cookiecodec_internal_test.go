package web

import (
	"reflect"
	"testing"

	"github.com/gorilla/securecookie"
)

func TestSessionSerializerRoundTrip(t *testing.T) {
	z := sessionSerializer{}
	in := map[any]any{
		"sid": "abc", "csrf": "tok-ü", "ws": int64(-42), "big": int64(1 << 60), "empty": "",
		"_flash": []any{"success|Saved.", "info|Back in Personal."},
	}
	b, err := z.Serialize(in)
	if err != nil || string(b[:len(sessionMagic)]) != sessionMagic {
		t.Fatalf("serialize: %q %v", b, err)
	}
	out := map[any]any{}
	if err := z.Deserialize(b, &out); err != nil || !reflect.DeepEqual(in, out) {
		t.Fatalf("round trip: %#v %v", out, err)
	}
	// Values the binary form does not carry go through gob, both ways.
	odd := map[any]any{"sid": "abc", "n": 3.5, 7: "int key"}
	b, err = z.Serialize(odd)
	if err != nil || string(b[:len(sessionMagic)]) == sessionMagic {
		t.Fatalf("unsupported values not sent to gob: %q %v", b, err)
	}
	out = map[any]any{}
	if err := z.Deserialize(b, &out); err != nil || !reflect.DeepEqual(odd, out) {
		t.Fatalf("gob round trip: %#v %v", out, err)
	}
	// A cookie written by gob before this format still opens.
	old, _ := securecookie.GobEncoder{}.Serialize(map[any]any{"sid": "abc", "ws": int64(5)})
	out = map[any]any{}
	if err := z.Deserialize(old, &out); err != nil || out["sid"] != "abc" || out["ws"] != int64(5) {
		t.Fatalf("old gob cookie: %#v %v", out, err)
	}
}

func TestSessionSerializerRefusesMalformed(t *testing.T) {
	z := sessionSerializer{}
	for _, b := range []string{
		sessionMagic + "s",                      // a tag without a key
		sessionMagic + "s\x05ab",                // a key longer than the rest
		sessionMagic + "s\x01a\xff",             // a broken length
		sessionMagic + "x\x01a\x01b",            // an unknown tag
		sessionMagic + "l\x01a\xff\xff\xff\x0f", // a list longer than the bytes
		sessionMagic + "i\x01a",                 // an int without its value
	} {
		out := map[any]any{}
		if err := z.Deserialize([]byte(b), &out); err == nil {
			t.Errorf("%q decoded: %#v", b, out)
		}
	}
}

// FuzzSessionSerializer: no input panics, and whatever decodes encodes back
// to the same values.
func FuzzSessionSerializer(f *testing.F) {
	z := sessionSerializer{}
	seed, _ := z.Serialize(map[any]any{"sid": "abc", "ws": int64(9), "_flash": []any{"a|b"}})
	f.Add(seed)
	f.Add([]byte(sessionMagic))
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) < len(sessionMagic) || string(b[:len(sessionMagic)]) != sessionMagic {
			b = append([]byte(sessionMagic), b...) // the binary form only; gob is not ours to fuzz
		}
		out := map[any]any{}
		if err := z.Deserialize(b, &out); err != nil {
			return
		}
		again, err := z.Serialize(out)
		if err != nil {
			t.Fatal(err)
		}
		back := map[any]any{}
		if err := z.Deserialize(again, &back); err != nil || !reflect.DeepEqual(out, back) {
			t.Fatalf("%#v re-decoded as %#v (%v)", out, back, err)
		}
	})
}
