package notify_test

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/qsmo/qsmo/internal/db"
	"github.com/qsmo/qsmo/internal/db/dbtest"
	"github.com/qsmo/qsmo/internal/notify"
	"github.com/qsmo/qsmo/internal/notify/smtptest"
)

func TestOutboxOverSMTP(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		srv := smtptest.Start(t)
		srv.RejectRcpt = "nobody"
		enqueue := func(to, subject, body string) {
			t.Helper()
			err := d.InTx(ctx, func(tx *db.Tx) error {
				return notify.Enqueue(ctx, tx, notify.Message{To: to, Subject: subject, Body: body, Kind: "test"})
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		enqueue("ada@example.gov", "Welcome to qsmo — set up your account", "Line one\n.leading dot survives\nhttp://127.0.0.1:8080/invite/abc")
		enqueue("nobody@example.gov", "Bounce", "x")

		s := &notify.Sender{DB: d, SMTP: notify.SMTPConfig{Addr: srv.Addr, From: "qsmo@example.gov", TLS: "none", User: "u", Password: "p"},
			Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
		n, err := s.SendPending(ctx)
		if err != nil || n != 1 {
			t.Fatalf("SendPending = %d, %v; want 1 sent", n, err)
		}
		mail := srv.Mail()
		if len(mail) != 1 {
			t.Fatalf("server got %d messages", len(mail))
		}
		m := mail[0]
		if m.From != "qsmo@example.gov" || len(m.To) != 1 || m.To[0] != "ada@example.gov" {
			t.Errorf("envelope = %+v", m)
		}
		if !strings.Contains(m.Data, "Subject: =?utf-8?q?") || !strings.Contains(m.Data, "\r\n.leading dot survives\r\n") {
			t.Errorf("message data = %q", m.Data)
		}
		items, err := notify.Outbox(ctx, d, "", 10)
		if err != nil {
			t.Fatal(err)
		}
		var sent, failed int
		for _, it := range items {
			if !it.SentAt.IsZero() {
				sent++
			}
			if it.LastError != "" && it.SentAt.IsZero() {
				failed++
				if !strings.Contains(it.LastError, "550") {
					t.Errorf("last error = %q", it.LastError)
				}
			}
		}
		if sent != 1 || failed != 1 {
			t.Errorf("sent %d failed %d, want 1 and 1", sent, failed)
		}
		// The failed message waits for its backoff: nothing is due now.
		if n, _ := s.SendPending(ctx); n != 0 {
			t.Errorf("retried before backoff: %d", n)
		}
	})
}

func TestEnqueueRejectsBadInput(t *testing.T) {
	d := dbtest.SQLite(t)
	ctx := context.Background()
	for _, m := range []notify.Message{
		{To: "not an address", Subject: "x"},
		{To: "a@example.gov", Subject: "header\r\nBcc: evil@example.com"},
	} {
		err := d.InTx(ctx, func(tx *db.Tx) error { return notify.Enqueue(ctx, tx, m) })
		if err == nil {
			t.Errorf("Enqueue(%+v) accepted", m)
		}
	}
	items, _ := notify.Outbox(ctx, d, "", 10)
	if len(items) != 0 {
		t.Fatal("rejected message stored")
	}
}

func TestNotifyEmailLink(t *testing.T) {
	d := dbtest.SQLite(t)
	ctx := context.Background()
	if _, err := d.ExecContext(ctx, `INSERT INTO users (id, email, name, created_at, updated_at) VALUES ('usr_a', 'ada@example.gov', 'Ada', '2026-01-01T00:00:00.000000Z', '2026-01-01T00:00:00.000000Z')`); err != nil {
		t.Fatal(err)
	}
	err := d.InTx(ctx, func(tx *db.Tx) error {
		return notify.Notify(ctx, tx, notify.Notification{UserID: "usr_a", Subject: "A survey", Body: "Please answer.",
			Link: "/cx/invitations/cxi_1", EmailLink: "/cx/answer/secret"}, "https://qsmo.example.gov/")
	})
	if err != nil {
		t.Fatal(err)
	}
	items, err := notify.ForUser(ctx, d, "usr_a", 5)
	if err != nil || len(items) != 1 || items[0].Link != "/cx/invitations/cxi_1" {
		t.Fatalf("in-app %+v %v", items, err)
	}
	mail, err := notify.Outbox(ctx, d, "ada@example.gov", 5)
	if err != nil || len(mail) != 1 || !strings.HasSuffix(mail[0].Body, "\n\nhttps://qsmo.example.gov/cx/answer/secret") || strings.Contains(mail[0].Body, "cxi_1") {
		t.Fatalf("email %+v %v", mail, err)
	}
}
