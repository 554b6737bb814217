package webhook_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/waqtor/waqtor/webhook"
)

// A receiver written in Go checks both signature formats before trusting a
// delivery, and deduplicates on webhook-id.
func ExampleVerify() {
	secret := webhook.GenerateSecret() // as shown when the endpoint was created
	seen := map[string]bool{}
	receiver := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			http.Error(w, "bad body", http.StatusBadRequest)
			return
		}
		if err := webhook.Verify(secret, r.Header, body, nil); err != nil {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		if err := webhook.VerifySeed(secret, r.Header.Get(webhook.HeaderSignature), body); err != nil {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		id := r.Header.Get(webhook.HeaderWebhookID)
		if seen[id] {
			w.WriteHeader(http.StatusOK) // a retry of something already processed
			return
		}
		seen[id] = true
		fmt.Println("processing", r.Header.Get(webhook.HeaderEvent), id)
		w.WriteHeader(http.StatusOK)
	})

	// What the dispatcher sends, built by hand here.
	body := []byte(`{"id":"evt_1","type":"message.received","data":{}}`)
	now := time.Now()
	sig, _ := webhook.Sign(secret, "evt_1", now, body)
	for range 2 { // a delivery and its retry
		req := httptest.NewRequest("POST", "/hook", strings.NewReader(string(body)))
		req.Header.Set(webhook.HeaderWebhookID, "evt_1")
		req.Header.Set(webhook.HeaderWebhookTimestamp, fmt.Sprint(now.Unix()))
		req.Header.Set(webhook.HeaderWebhookSignature, sig)
		req.Header.Set(webhook.HeaderSignature, webhook.SignSeed(secret, body))
		req.Header.Set(webhook.HeaderEvent, "message.received")
		rec := httptest.NewRecorder()
		receiver.ServeHTTP(rec, req)
		fmt.Println(rec.Code)
	}
	// Output:
	// processing message.received evt_1
	// 200
	// 200
}

// The original plan's retry policy: 3 attempts, from 1 s.
func ExampleExponentialRetry() {
	p := webhook.ExponentialRetry(3, time.Second, 2, 0)
	fmt.Println(p.Attempts(), p.Schedule)
	fmt.Println(webhook.StandardRetry().Schedule)
	// Output:
	// 3 [1s 2s]
	// [5s 5m0s 30m0s 2h0m0s 5h0m0s 10h0m0s 10h0m0s]
}
