package main

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/waqtor/waqtor/webhook"
)

func TestReceiverVerifies(t *testing.T) {
	secret := webhook.GenerateSecret()
	h := newHandler(secret, slog.New(slog.DiscardHandler))
	body := `{"id":"evt_1","type":"webhook.test","data":{}}`
	now := time.Now()
	sig, err := webhook.Sign(secret, "evt_1", now, []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	send := func(seedSig string) int {
		req := httptest.NewRequest("POST", "/", strings.NewReader(body))
		req.Header.Set(webhook.HeaderWebhookID, "evt_1")
		req.Header.Set(webhook.HeaderWebhookTimestamp, strconv.FormatInt(now.Unix(), 10))
		req.Header.Set(webhook.HeaderWebhookSignature, sig)
		req.Header.Set(webhook.HeaderSignature, seedSig)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code
	}
	if c := send(webhook.SignSeed(secret, []byte(body))); c != http.StatusNoContent {
		t.Fatalf("valid delivery: %d", c)
	}
	if c := send("sha256=00"); c != http.StatusUnauthorized {
		t.Fatalf("bad seed signature: %d", c)
	}
}
