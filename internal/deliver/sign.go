package deliver

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"time"
)

// Header names of Standard Webhooks.
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

const secretPrefix = "whsec_"

// Keys are an endpoint's signing keys: one, or two during a rotation (the
// new and the old), each signing every request. A Keys value never prints
// its content: String, GoString and LogValue say "[redacted]".
type Keys struct{ keys [][]byte }

func (Keys) String() string                 { return "[redacted]" }
func (Keys) GoString() string               { return "[redacted]" }
func (Keys) LogValue() slog.Value           { return slog.StringValue("[redacted]") }
func (k Keys) Len() int                     { return len(k.keys) }
func (k Keys) MarshalText() ([]byte, error) { return []byte("[redacted]"), nil }

// ErrBadSecret is the reason ParseKeys refuses a value. Its text never
// holds the value.
var ErrBadSecret = errors.New("want whsec_ followed by base64 (two such secrets separated by a space during a rotation)")

// ParseKeys reads a secret value as Standard Webhooks writes it,
// "whsec_<base64>", or several of them separated by white space (during a
// rotation: the new one and the old one). The key is the base64-decoded part
// after "whsec_".
func ParseKeys(value string) (Keys, error) {
	fields := strings.Fields(value)
	if len(fields) == 0 {
		return Keys{}, errors.New("the secret is empty")
	}
	var k Keys
	for _, f := range fields {
		b64, ok := strings.CutPrefix(f, secretPrefix)
		if !ok {
			return Keys{}, ErrBadSecret
		}
		key, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			key, err = base64.RawStdEncoding.DecodeString(b64)
		}
		if err != nil || len(key) == 0 {
			return Keys{}, ErrBadSecret
		}
		k.keys = append(k.keys, key)
	}
	return k, nil
}

// Sign returns the webhook-signature header for a message: "v1,<base64
// HMAC-SHA256 of id.timestamp.body>" for every key, separated by spaces.
func (k Keys) Sign(id string, ts time.Time, body []byte) string {
	var b strings.Builder
	prefix := id + "." + strconv.FormatInt(ts.Unix(), 10) + "."
	for i, key := range k.keys {
		m := hmac.New(sha256.New, key)
		m.Write([]byte(prefix))
		m.Write(body)
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString("v1,")
		b.WriteString(base64.StdEncoding.EncodeToString(m.Sum(nil)))
	}
	return b.String()
}
