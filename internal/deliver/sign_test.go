package deliver

import (
	"encoding/base64"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// The example of the Standard Webhooks specification: this secret, id,
// timestamp and body sign to this signature.
func TestSignSpecExample(t *testing.T) {
	k := mustKeys(t, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	body := []byte(`{"test": 2432232314}`)
	got := k.Sign("msg_p5jXN8AQM9LWM0D4loKWxJek", time.Unix(1614265330, 0), body)
	want := "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
	if got != want {
		t.Fatalf("signature %s, want %s", got, want)
	}
}

// Both keys of a rotation sign; a receiver that knows either verifies.
func TestSignRotation(t *testing.T) {
	newS, oldS := testSecret("new"), testSecret("old")
	k := mustKeys(t, newS+"  "+oldS+"\n")
	if k.Len() != 2 {
		t.Fatalf("%d keys, want 2", k.Len())
	}
	ts := time.Now()
	body := []byte(`{"type":"tax.calculated"}`)
	sig := k.Sign("msg_1", ts, body)
	if parts := strings.Split(sig, " "); len(parts) != 2 || !strings.HasPrefix(parts[1], "v1,") {
		t.Fatalf("signature header %q, want two v1 signatures separated by a space", sig)
	}
	h := http.Header{}
	h.Set(HeaderID, "msg_1")
	h.Set(HeaderTimestamp, fmt.Sprint(ts.Unix()))
	h.Set(HeaderSignature, sig)
	for _, s := range []string{newS, oldS} {
		wh, _ := standardwebhooks.NewWebhook(s)
		if err := wh.Verify(body, h); err != nil {
			t.Errorf("verify with one of the keys: %v", err)
		}
	}
	wh, _ := standardwebhooks.NewWebhook(testSecret("other"))
	if err := wh.Verify(body, h); err == nil {
		t.Error("a third key verified the signature")
	}
	if err := mustVerifier(t, newS).Verify([]byte(`{"type":"tax.calculatee"}`), h); err == nil {
		t.Error("a changed body verified")
	}
}

func mustVerifier(t *testing.T, s string) *standardwebhooks.Webhook {
	wh, err := standardwebhooks.NewWebhook(s)
	if err != nil {
		t.Fatal(err)
	}
	return wh
}

func TestParseKeysNeverShowsTheSecret(t *testing.T) {
	secret := "whsec_" + base64.StdEncoding.EncodeToString([]byte("hunter2hunter2"))
	for _, bad := range []string{"hunter2hunter2", "whsec_!!hunter2!!", "whsec_", secret + " hunter2hunter2"} {
		_, err := ParseKeys(bad)
		if err == nil {
			t.Errorf("ParseKeys(%q) accepted it", bad)
			continue
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("error %q shows the secret", err)
		}
	}
	if _, err := ParseKeys("  "); err == nil {
		t.Error("an empty secret was accepted")
	}
	k := mustKeys(t, secret)
	var b strings.Builder
	slog.New(slog.NewTextHandler(&b, nil)).Info("x", "keys", k)
	for _, s := range []string{fmt.Sprint(k), fmt.Sprintf("%v %+v %#v %s", k, k, k, k), b.String()} {
		if strings.Contains(s, "aHVudGVy") || !strings.Contains(s, "[redacted]") {
			t.Errorf("printed keys %q, want [redacted]", s)
		}
	}
}

func FuzzParseKeys(f *testing.F) {
	f.Add(testSecret("a"))
	f.Add(testSecret("a") + " " + testSecret("b"))
	f.Add("whsec_")
	f.Add("hunter2")
	f.Fuzz(func(t *testing.T, s string) {
		k, err := ParseKeys(s)
		if err != nil {
			if len(s) >= 8 && strings.Contains(err.Error(), s) {
				t.Fatalf("the error %q shows the value", err)
			}
			return
		}
		if k.Len() == 0 || k.Len() != len(strings.Fields(s)) {
			t.Fatalf("%d keys from %q", k.Len(), s)
		}
		sig := k.Sign("msg", time.Unix(1, 0), []byte("{}"))
		if strings.Count(sig, "v1,") != k.Len() {
			t.Fatalf("signature %q for %d keys", sig, k.Len())
		}
	})
}
