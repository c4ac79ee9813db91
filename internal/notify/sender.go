package notify

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net"
	"net/smtp"
	"strings"
	"time"

	"github.com/qsmo/qsmo/internal/db"
)

// SMTPConfig says how to reach the mail server.
type SMTPConfig struct {
	Addr     string // host:port
	User     string
	Password string
	From     string
	TLS      string // "starttls", "tls" or "none"
	// RootCAs overrides the system roots, for tests with a private CA.
	TLSConfig *tls.Config
}

// Sender drains the outbox over SMTP. One goroutine, owned by Run; it stops
// when Run's context ends.
type Sender struct {
	DB       *db.DB
	SMTP     SMTPConfig
	Interval time.Duration // how often to look for mail (default 5s)
	Log      *slog.Logger
	// Kick, when non-nil, wakes the sender early (buffered, size 1).
	Kick chan struct{}
}

// maxAttempts bounds retries; a message that keeps failing stays in the
// outbox with its last error for an office admin to see.
const maxAttempts = 10

// Run sends pending mail until ctx ends.
func (s *Sender) Run(ctx context.Context) {
	interval := s.Interval
	if interval <= 0 {
		interval = 5 * time.Second
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if _, err := s.SendPending(ctx); err != nil && ctx.Err() == nil {
			s.Log.Warn("outbox: send pending", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.Kick:
		}
	}
}

// SendPending sends every message that is due and returns how many went out.
func (s *Sender) SendPending(ctx context.Context) (int, error) {
	rows, err := s.DB.QueryContext(ctx, `SELECT id, to_addr, subject, body, attempts FROM outbox
		WHERE sent_at IS NULL AND attempts < ? AND next_try_at <= ? ORDER BY created_at LIMIT 50`, maxAttempts, db.TS(s.DB.Now()))
	if err != nil {
		return 0, fmt.Errorf("notify: pending: %w", err)
	}
	type pending struct {
		id, to, subject, body string
		attempts              int
	}
	var list []pending
	for rows.Next() {
		var p pending
		if err := rows.Scan(&p.id, &p.to, &p.subject, &p.body, &p.attempts); err != nil {
			rows.Close()
			return 0, err
		}
		list = append(list, p)
	}
	rows.Close()
	sent := 0
	for _, p := range list {
		if ctx.Err() != nil {
			break
		}
		err := s.send(p.to, p.subject, p.body)
		now := s.DB.Now()
		if err != nil {
			backoff := time.Duration(1<<min(p.attempts, 10)) * 30 * time.Second
			s.Log.Warn("outbox: send failed", "message_id", p.id, "attempt", p.attempts+1, "err", err)
			_, uerr := s.DB.ExecContext(ctx, "UPDATE outbox SET attempts = attempts + 1, last_error = ?, next_try_at = ? WHERE id = ?",
				truncateErr(err), db.TS(now.Add(backoff)), p.id)
			if uerr != nil {
				return sent, uerr
			}
			continue
		}
		if _, err := s.DB.ExecContext(ctx, "UPDATE outbox SET attempts = attempts + 1, sent_at = ?, last_error = '' WHERE id = ?", db.TS(now), p.id); err != nil {
			return sent, err
		}
		sent++
		s.Log.Info("outbox: sent", "message_id", p.id)
	}
	return sent, nil
}

func truncateErr(err error) string {
	s := err.Error()
	if len(s) > 500 {
		s = s[:500]
	}
	return s
}

// send delivers one message in its own SMTP conversation.
func (s *Sender) send(to, subject, body string) error {
	host, _, err := net.SplitHostPort(s.SMTP.Addr)
	if err != nil {
		return err
	}
	tlsConf := s.SMTP.TLSConfig
	if tlsConf == nil {
		tlsConf = &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
	}
	var conn net.Conn
	dialer := &net.Dialer{Timeout: 15 * time.Second}
	if s.SMTP.TLS == "tls" {
		conn, err = tls.DialWithDialer(dialer, "tcp", s.SMTP.Addr, tlsConf)
	} else {
		conn, err = dialer.Dial("tcp", s.SMTP.Addr)
	}
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	_ = conn.SetDeadline(time.Now().Add(60 * time.Second))
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		conn.Close()
		return fmt.Errorf("greeting: %w", err)
	}
	defer c.Close()
	if s.SMTP.TLS == "starttls" {
		if ok, _ := c.Extension("STARTTLS"); !ok {
			return errors.New("server does not offer STARTTLS (set --smtp-tls none only for a loopback relay)")
		}
		if err := c.StartTLS(tlsConf); err != nil {
			return fmt.Errorf("starttls: %w", err)
		}
	}
	if s.SMTP.User != "" {
		if err := c.Auth(smtp.PlainAuth("", s.SMTP.User, s.SMTP.Password, host)); err != nil {
			return fmt.Errorf("auth: %w", err)
		}
	}
	if err := c.Mail(s.SMTP.From); err != nil {
		return fmt.Errorf("mail from: %w", err)
	}
	if err := c.Rcpt(to); err != nil {
		return fmt.Errorf("rcpt to: %w", err)
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("data: %w", err)
	}
	msg := compose(s.SMTP.From, to, subject, body, time.Now())
	if _, err := w.Write([]byte(msg)); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("end data: %w", err)
	}
	return c.Quit()
}

// compose builds an RFC 5322 message with CRLF line ends and a MIME-encoded
// subject.
func compose(from, to, subject, body string, now time.Time) string {
	var b strings.Builder
	b.WriteString("From: " + from + "\r\n")
	b.WriteString("To: " + to + "\r\n")
	b.WriteString("Subject: " + mime.QEncoding.Encode("utf-8", subject) + "\r\n")
	b.WriteString("Date: " + now.UTC().Format(time.RFC1123Z) + "\r\n")
	b.WriteString("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n")
	body = strings.ReplaceAll(body, "\r\n", "\n")
	// Dot-stuffing is left to net/smtp's data writer.
	for _, line := range strings.Split(body, "\n") {
		b.WriteString(line + "\r\n")
	}
	return b.String()
}
