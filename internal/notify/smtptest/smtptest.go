// Package smtptest runs a small SMTP server on loopback that records the
// messages it receives, so tests exercise a real SMTP conversation.
package smtptest

import (
	"bufio"
	"net"
	"net/textproto"
	"strings"
	"sync"
	"testing"
)

// Mail is one received message.
type Mail struct {
	From string
	To   []string
	Data string // headers and body, CRLF line ends, dot-unstuffed
	Auth string // the AUTH PLAIN payload, if any
}

// Server is a recording SMTP server.
type Server struct {
	Addr string
	ln   net.Listener
	mu   sync.Mutex
	mail []Mail
	// RejectRcpt makes RCPT TO fail with 550 for addresses containing it.
	RejectRcpt string
	wg         sync.WaitGroup
}

// Start listens on 127.0.0.1 and serves until the test ends.
func Start(tb testing.TB) *Server {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	s := &Server{Addr: ln.Addr().String(), ln: ln}
	s.wg.Add(1)
	go s.serve()
	tb.Cleanup(func() { ln.Close(); s.wg.Wait() })
	return s
}

// Mail returns the messages received so far.
func (s *Server) Mail() []Mail {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Mail(nil), s.mail...)
}

func (s *Server) serve() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.conversation(c)
		}()
	}
}

func (s *Server) conversation(c net.Conn) {
	defer c.Close()
	tp := textproto.NewConn(c)
	_ = tp.PrintfLine("220 smtptest ESMTP ready")
	var m Mail
	for {
		line, err := tp.ReadLine()
		if err != nil {
			return
		}
		verb := strings.ToUpper(strings.SplitN(line, " ", 2)[0])
		arg := strings.TrimSpace(strings.TrimPrefix(line, strings.SplitN(line, " ", 2)[0]))
		switch verb {
		case "EHLO", "HELO":
			_ = tp.PrintfLine("250-smtptest greets you")
			_ = tp.PrintfLine("250-AUTH PLAIN")
			_ = tp.PrintfLine("250 8BITMIME")
		case "AUTH":
			m.Auth = arg
			_ = tp.PrintfLine("235 2.7.0 Authentication successful")
		case "MAIL":
			m.From = angle(arg)
			_ = tp.PrintfLine("250 OK")
		case "RCPT":
			to := angle(arg)
			if s.RejectRcpt != "" && strings.Contains(to, s.RejectRcpt) {
				_ = tp.PrintfLine("550 5.1.1 no such user")
				continue
			}
			m.To = append(m.To, to)
			_ = tp.PrintfLine("250 OK")
		case "DATA":
			_ = tp.PrintfLine("354 end with <CRLF>.<CRLF>")
			r := bufio.NewReader(tp.DotReader())
			var b strings.Builder
			for {
				l, err := r.ReadString('\n')
				b.WriteString(strings.TrimSuffix(l, "\n") + "\r\n")
				if err != nil {
					break
				}
			}
			m.Data = strings.TrimSuffix(b.String(), "\r\n")
			s.mu.Lock()
			s.mail = append(s.mail, m)
			s.mu.Unlock()
			m = Mail{Auth: m.Auth}
			_ = tp.PrintfLine("250 OK queued")
		case "RSET":
			m = Mail{}
			_ = tp.PrintfLine("250 OK")
		case "NOOP":
			_ = tp.PrintfLine("250 OK")
		case "QUIT":
			_ = tp.PrintfLine("221 bye")
			return
		default:
			_ = tp.PrintfLine("502 command not implemented")
		}
	}
}

// angle returns the address between < and > in a MAIL or RCPT argument.
func angle(arg string) string {
	i, j := strings.IndexByte(arg, '<'), strings.IndexByte(arg, '>')
	if i < 0 || j < i {
		return ""
	}
	return arg[i+1 : j]
}
