package ws

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Monitor is the JSON the monitor endpoint serves, with the seed's fields.
type Monitor struct {
	Buffer      BufferInfo       `json:"buffer"`
	Clients     []ClientInfo     `json:"clients"`
	Connections ConnectionsInfo  `json:"connections"`
	Errors      ErrorsInfo       `json:"errors"`
	Messages    MessagesInfo     `json:"messages"`
	Security    map[string]int64 `json:"security"`
	Server      ServerInfo       `json:"server"`
	Subscribers map[string]int   `json:"subscribers"`
	System      SystemInfo       `json:"system"`
}

// ServerInfo describes the server's uptime.
type ServerInfo struct {
	StartTime       time.Time `json:"startTime"`
	Timestamp       time.Time `json:"timestamp"`
	Uptime          float64   `json:"uptime"`
	UptimeFormatted string    `json:"uptimeFormatted"`
}

// ConnectionsInfo counts connections.
type ConnectionsInfo struct {
	Alive          int   `json:"alive"`
	Current        int   `json:"current"`
	Dead           int64 `json:"dead"`
	Disconnections int64 `json:"disconnections"`
	SlowClosed     int64 `json:"slowClosed"`
	Total          int64 `json:"total"`
}

// MessagesInfo counts frames and broadcasts.
type MessagesInfo struct {
	Broadcasts    int64      `json:"broadcasts"`
	LastBroadcast *time.Time `json:"lastBroadcast"`
	Received      int64      `json:"received"`
}

// ErrorsInfo counts errors.
type ErrorsInfo struct {
	FrameErrors int64      `json:"frameErrors"`
	Last        *ErrorInfo `json:"last"`
	Total       int64      `json:"total"`
}

// ErrorInfo is the last error.
type ErrorInfo struct {
	Message string    `json:"message"`
	Source  string    `json:"source"`
	Time    time.Time `json:"time"`
}

// SystemInfo describes the process.
type SystemInfo struct {
	CPU    CPUInfo    `json:"cpu"`
	Memory MemoryInfo `json:"memory"`
}

// CPUInfo holds the load average (Linux) and core count.
type CPUInfo struct {
	Cores   int       `json:"cores"`
	LoadAvg []float64 `json:"loadAvg"`
}

// MemoryInfo is in MB.
type MemoryInfo struct {
	External  float64 `json:"external"`
	HeapTotal float64 `json:"heapTotal"`
	HeapUsed  float64 `json:"heapUsed"`
	RSS       float64 `json:"rss"`
}

// BufferInfo describes the send queues, in KB.
type BufferInfo struct {
	Average    float64 `json:"average"`
	Max        float64 `json:"max"`
	Overloaded int     `json:"overloaded" doc:"Clients whose queue is above half its cap."`
	Total      float64 `json:"total"`
}

// ClientInfo describes one connection.
type ClientInfo struct {
	Buffered      float64  `json:"buffered" doc:"KB queued."`
	Connected     float64  `json:"connected" doc:"Seconds since the connection opened."`
	IP            string   `json:"ip"`
	IsAlive       bool     `json:"isAlive"`
	LastPing      float64  `json:"lastPing" doc:"Seconds since the last pong."`
	Subscriptions []string `json:"subscriptions"`
	Tenant        string   `json:"tenant"`
}

// Stats returns the monitor's view of the hub. Clients are listed only for
// the given tenant ("" for all).
func (h *Hub) Stats(tenant string) *Monitor {
	now := time.Now()
	up := now.Sub(h.start)
	m := &Monitor{
		Server:      ServerInfo{StartTime: h.start.UTC(), Timestamp: now.UTC(), Uptime: up.Seconds(), UptimeFormatted: formatUptime(up)},
		Clients:     []ClientInfo{},
		Subscribers: map[string]int{},
		Security:    map[string]int64{},
	}
	const kb = 1024.0
	h.mu.RLock()
	for t, n := range h.topics {
		m.Subscribers[t] = n
	}
	var total, maxQ float64
	for c := range h.clients {
		c.mu.Lock()
		q := float64(c.queued+c.pendingBytes) / kb
		subs := make([]string, 0, len(c.topics))
		for t := range c.topics {
			subs = append(subs, t)
		}
		c.mu.Unlock()
		slices.Sort(subs)
		total += q
		maxQ = max(maxQ, q)
		alive := !c.dead.Load()
		if alive {
			m.Connections.Alive++
		}
		if q*kb > float64(h.opts.SendQueueBytes)/2 {
			m.Buffer.Overloaded++
		}
		m.Connections.Current++
		if tenant == "" || c.p.Tenant == tenant {
			m.Clients = append(m.Clients, ClientInfo{Buffered: q, Connected: now.Sub(c.connectedAt).Seconds(), IP: c.ip, IsAlive: alive,
				LastPing: now.Sub(time.Unix(0, c.lastPong.Load())).Seconds(), Subscriptions: subs, Tenant: c.p.Tenant})
		}
	}
	h.mu.RUnlock()
	m.Buffer.Total, m.Buffer.Max = total, maxQ
	if m.Connections.Current > 0 {
		m.Buffer.Average = total / float64(m.Connections.Current)
	}
	m.Connections.Total = h.stats.connections.Load()
	m.Connections.Disconnections = h.stats.disconnections.Load()
	m.Connections.Dead = h.stats.dead.Load()
	m.Connections.SlowClosed = h.stats.slowClosed.Load()
	m.Messages.Received = h.stats.received.Load()
	m.Messages.Broadcasts = h.stats.broadcasts.Load()
	if lb := h.stats.lastBroadcast.Load(); lb > 0 {
		t := time.Unix(0, lb).UTC()
		m.Messages.LastBroadcast = &t
	}
	h.stats.mu.Lock()
	m.Errors.Total = h.stats.errors
	if h.stats.lastError != nil {
		e := *h.stats.lastError
		m.Errors.Last = &e
	}
	for k, v := range h.stats.sec {
		m.Security[k] = v
	}
	h.stats.mu.Unlock()
	m.Errors.FrameErrors = h.stats.frameErrors.Load()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	const mb = 1024 * 1024.0
	m.System.Memory = MemoryInfo{RSS: float64(ms.Sys) / mb, HeapUsed: float64(ms.HeapAlloc) / mb, HeapTotal: float64(ms.HeapSys) / mb,
		External: float64(ms.Sys-ms.HeapSys) / mb}
	m.System.CPU = CPUInfo{Cores: runtime.NumCPU(), LoadAvg: loadAvg()}
	return m
}

func formatUptime(d time.Duration) string {
	d = d.Truncate(time.Second)
	days := d / (24 * time.Hour)
	d -= days * 24 * time.Hour
	if days > 0 {
		return fmt.Sprintf("%dd %s", days, d)
	}
	return d.String()
}

func loadAvg() []float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return []float64{}
	}
	f := strings.Fields(string(b))
	out := []float64{}
	for i := 0; i < 3 && i < len(f); i++ {
		v, err := strconv.ParseFloat(f[i], 64)
		if err != nil {
			break
		}
		out = append(out, v)
	}
	return out
}

//go:embed monitor.html
var monitorHTML []byte

// MonitorHandler serves the monitor: JSON (Stats) when the request accepts
// application/json or has ?format=json, else a small HTML page that fetches
// the JSON every 2 s. Put it behind authentication: the JSON lists client
// addresses. With a principal in the request context (auth.PrincipalFrom),
// only that tenant's clients are listed.
func (h *Hub) MonitorHandler(tenantFunc func(r *http.Request) string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("format") == "json" || strings.Contains(r.Header.Get("Accept"), "application/json") {
			tenant := ""
			if tenantFunc != nil {
				tenant = tenantFunc(r)
			}
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Cache-Control", "no-store")
			_ = json.NewEncoder(w).Encode(h.Stats(tenant))
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Security-Policy", "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'")
		_, _ = w.Write(monitorHTML)
	})
}
