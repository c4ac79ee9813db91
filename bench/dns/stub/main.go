// Command stub is the loopback authoritative server both resolvers forward
// to in the DNS benchmark: it answers every A query with one fixed address
// and every other type with an empty NOERROR, over UDP and TCP.
package main

import (
	"encoding/binary"
	"flag"
	"io"
	"log"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"syscall"

	"github.com/qsmo/qsmo/internal/pdns/wire"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:5399", "UDP and TCP listen address")
	ip := flag.String("a", "192.0.2.1", "address of every A answer")
	ttl := flag.Uint("ttl", 86400, "TTL of the answers (long, so cache-hit runs stay hits)")
	flag.Parse()
	a, err := netip.ParseAddr(*ip)
	if err != nil || !a.Is4() {
		log.Fatalf("stub: -a %q is not an IPv4 address", *ip)
	}
	pc, err := net.ListenPacket("udp", *addr)
	if err != nil {
		log.Fatalf("stub: %v", err)
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatalf("stub: %v", err)
	}
	s := server{addr: a.As4(), ttl: uint32(*ttl)}
	go s.serveUDP(pc.(*net.UDPConn))
	go s.serveTCP(ln)
	log.Printf("stub: answering on %s", *addr)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	<-sig
}

type server struct {
	addr [4]byte
	ttl  uint32
}

// reply builds the answer to pkt in out; nil when pkt is not a query.
func (s *server) reply(pkt, out []byte, q *wire.Query) []byte {
	if wire.Parse(pkt, q) != nil {
		return nil
	}
	an := uint16(0)
	if q.QType == wire.TypeA {
		an = 1
	}
	out = wire.AppendHeader(out[:0], q.ID, wire.FlagQR|wire.FlagAA|q.Flags&wire.FlagRD, 1, an, 0, 0)
	out = append(out, pkt[wire.HeaderLen:q.QuestionEnd]...)
	if an == 1 {
		out = append(out, 0xC0, 12, 0, 1, 0, 1, byte(s.ttl>>24), byte(s.ttl>>16), byte(s.ttl>>8), byte(s.ttl), 0, 4)
		out = append(out, s.addr[:]...)
	}
	return out
}

func (s *server) serveUDP(c *net.UDPConn) {
	buf := make([]byte, 65535)
	out := make([]byte, 0, 512)
	var q wire.Query
	for {
		n, src, err := c.ReadFromUDPAddrPort(buf)
		if err != nil {
			log.Fatalf("stub: %v", err)
		}
		if r := s.reply(buf[:n], out, &q); r != nil {
			_, _ = c.WriteToUDPAddrPort(r, src)
		}
	}
}

func (s *server) serveTCP(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			log.Fatalf("stub: %v", err)
		}
		go func() {
			defer c.Close()
			buf := make([]byte, 65535)
			out := make([]byte, 2, 514)
			var q wire.Query
			for {
				var l [2]byte
				if _, err := io.ReadFull(c, l[:]); err != nil {
					return
				}
				n := int(binary.BigEndian.Uint16(l[:]))
				if _, err := io.ReadFull(c, buf[:n]); err != nil {
					return
				}
				r := s.reply(buf[:n], out[2:], &q)
				if r == nil {
					return
				}
				msg := append([]byte{byte(len(r) >> 8), byte(len(r))}, r...)
				if _, err := c.Write(msg); err != nil {
					return
				}
			}
		}()
	}
}
