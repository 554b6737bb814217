package auththrottle_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/waqtor/waqtor/auth"
	"github.com/waqtor/waqtor/internal/auththrottle"
)

func request(addr, key string) *http.Request {
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = addr
	if key != "" {
		r.Header.Set("X-API-Key", key)
	}
	return r
}

// fail records one failed attempt of r, which must not be refused yet.
func fail(t *testing.T, th *auththrottle.Throttle, r *http.Request) {
	t.Helper()
	a, reason := th.Check(r)
	if reason != auththrottle.None {
		t.Fatalf("refused too early: %s", reason)
	}
	th.Failed(r, a)
}

func TestPerAddress(t *testing.T) {
	t.Parallel()
	th := auththrottle.New(3, -1, time.Minute)
	for range 3 {
		fail(t, th, request("192.0.2.1:1000", "wqt_nonsense"))
	}
	if _, reason := th.Check(request("192.0.2.1:2000", auth.NewKeySecret())); reason != auththrottle.Address {
		t.Fatalf("the 4th attempt from the address, on another port, with a valid-looking key: %q", reason)
	}
	if _, reason := th.Check(request("192.0.2.2:1000", "")); reason != auththrottle.None {
		t.Fatalf("another address: %q", reason)
	}
	// IPv6 clients are counted per /64.
	for range 3 {
		fail(t, th, request("[2001:db8::1]:1000", ""))
	}
	if _, reason := th.Check(request("[2001:db8::ffff]:1000", "")); reason != auththrottle.Address {
		t.Fatalf("same /64: %q", reason)
	}
}

func TestPerKeyID(t *testing.T) {
	t.Parallel()
	th := auththrottle.New(-1, 2, time.Minute)
	key := auth.NewKeySecret()
	fail(t, th, request("192.0.2.1:1", key))
	fail(t, th, request("192.0.2.2:1", key)) // from anywhere
	if _, reason := th.Check(request("192.0.2.3:1", key)); reason != auththrottle.Key {
		t.Fatalf("the key ID past its limit: %q", reason)
	}
	if _, reason := th.Check(request("192.0.2.3:1", auth.NewKeySecret())); reason != auththrottle.None {
		t.Fatalf("another key: %q", reason)
	}
	for range 5 { // malformed keys have no ID to count
		fail(t, th, request("192.0.2.4:1", "wqt_nonsense"))
	}
}

func TestOff(t *testing.T) {
	t.Parallel()
	th := auththrottle.New(0, -1, time.Minute)
	if th != nil {
		t.Fatal("both limits off: nil")
	}
	for range 100 {
		fail(t, th, request("192.0.2.1:1", auth.NewKeySecret()))
	}
	if th.Window() != 0 {
		t.Fatal("a nil throttle has no window")
	}
}
