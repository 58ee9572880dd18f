// Package fetchtest is an in-process fake of the Stripe and Chargebee list
// APIs for tests (served with net/http/httptest on loopback): it paginates
// like them, checks the key, and misbehaves on request — 429 with
// Retry-After, 5xx, connection resets — while it counts what it was sent.
package fetchtest

import (
	"cmp"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/taxagg/taxagg/internal/ratelimit"
)

// Action is what the server does with one request instead of answering it
// normally. The zero Action answers normally.
type Action struct {
	Status     int    // answer with this status and Body
	RetryAfter string // Retry-After header, with Status
	Body       string // default: an error object in the provider's shape
	Reset      bool   // close the connection with a TCP reset, no answer
}

// Request is one request as the server saw it.
type Request struct {
	N        int64 // 1-based, in arrival order
	At       time.Time
	Path     string
	Query    string
	Resource string
	Answered int // status sent; 0 for a reset
}

// Server is a fake billing API. Set its fields before Start.
type Server struct {
	// Provider is "stripe" or "chargebee".
	Provider string
	// Key is the API key requests must carry (bearer for Stripe, basic
	// user name for Chargebee); empty accepts any.
	Key string
	// Objects per resource, in any order; see Objects.
	Data map[string][]map[string]any
	// Fault, when set, may replace the answer to request n.
	Fault func(n int64, r *http.Request) Action
	// Clock stamps requests (default the system clock).
	Clock ratelimit.Clock
	// Latency, when set, is slept (real time) before each answer.
	Latency func(n int64) time.Duration

	srv    *httptest.Server
	sorted map[string][]map[string]any // Data in the API's list order

	mu   sync.Mutex
	n    int64
	reqs []Request
}

// Start serves on a loopback port and returns the base URL to pass as
// --api-base (for Chargebee it includes /api/v2).
func (s *Server) Start() string {
	if s.Clock == nil {
		s.Clock = ratelimit.System()
	}
	s.sorted = make(map[string][]map[string]any, len(s.Data))
	for res, objs := range s.Data {
		s.sorted[res] = s.listOrder(objs)
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	if s.Provider == "chargebee" {
		return s.srv.URL + "/api/v2"
	}
	return s.srv.URL
}

// Close stops the server.
func (s *Server) Close() {
	if s.srv != nil {
		s.srv.CloseClientConnections()
		s.srv.Close()
	}
}

// Requests returns what was received so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.reqs)
}

// Count returns the number of requests received so far.
func (s *Server) Count() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n
}

// MaxInWindow returns the most requests that arrived within any window of
// length d (half-open).
func (s *Server) MaxInWindow(d time.Duration) int {
	reqs := s.Requests()
	at := make([]time.Time, len(reqs))
	for i, r := range reqs {
		at[i] = r.At
	}
	slices.SortFunc(at, func(a, b time.Time) int { return a.Compare(b) })
	best, j := 0, 0
	for i := range at {
		for j < len(at) && at[j].Sub(at[i]) < d {
			j++
		}
		best = max(best, j-i)
	}
	return best
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.n++
	n := s.n
	idx := len(s.reqs)
	s.reqs = append(s.reqs, Request{N: n, At: s.Clock.Now(), Path: r.URL.Path, Query: r.URL.RawQuery, Resource: s.resourceOf(r.URL.Path)})
	s.mu.Unlock()
	answered := func(code int) {
		s.mu.Lock()
		s.reqs[idx].Answered = code
		s.mu.Unlock()
	}
	if s.Latency != nil {
		time.Sleep(s.Latency(n))
	}
	if r.Method != http.MethodGet {
		answered(http.StatusMethodNotAllowed)
		s.writeError(w, http.StatusMethodNotAllowed, "only GET here")
		return
	}
	if s.Fault != nil {
		if a := s.Fault(n, r); a != (Action{}) {
			if a.Reset {
				reset(w)
				return
			}
			if a.RetryAfter != "" {
				w.Header().Set("Retry-After", a.RetryAfter)
			}
			answered(a.Status)
			if a.Body != "" {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(a.Status)
				fmt.Fprint(w, a.Body)
				return
			}
			s.writeError(w, a.Status, http.StatusText(a.Status))
			return
		}
	}
	if !s.authorized(r) {
		answered(http.StatusUnauthorized)
		// Echo the key, as a careless server might: the client must not
		// pass it on.
		key := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		if user, _, ok := r.BasicAuth(); ok {
			key = user
		}
		s.writeError(w, http.StatusUnauthorized, "Invalid API Key provided: "+key)
		return
	}
	code := s.list(w, r)
	answered(code)
}

func reset(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic("fetchtest: response writer cannot hijack")
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		return
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		tc.SetLinger(0) // close with RST
	}
	conn.Close()
}

func (s *Server) authorized(r *http.Request) bool {
	if s.Key == "" {
		return r.Header.Get("Authorization") != ""
	}
	h := r.Header.Get("Authorization")
	if s.Provider == "chargebee" {
		want := "Basic " + base64.StdEncoding.EncodeToString([]byte(s.Key+":"))
		return h == want
	}
	return h == "Bearer "+s.Key
}

func (s *Server) resourceOf(path string) string {
	path = strings.TrimPrefix(path, "/api/v2/")
	path = strings.TrimPrefix(path, "/v1/")
	return strings.Trim(path, "/")
}

func (s *Server) writeError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if s.Provider == "chargebee" {
		json.NewEncoder(w).Encode(map[string]any{
			"message": msg, "type": "invalid_request", "api_error_code": "invalid_request", "http_status_code": status,
		})
		return
	}
	json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"message": msg, "type": "invalid_request_error"}})
}

// created returns an object's creation time field.
func (s *Server) created(o map[string]any) int64 {
	field := "created"
	if s.Provider == "chargebee" {
		field = "date"
	}
	switch v := o[field].(type) {
	case int64:
		return v
	case int:
		return int64(v)
	case float64:
		return int64(v)
	case json.Number:
		n, _ := v.Int64()
		return n
	}
	return 0
}

func (s *Server) list(w http.ResponseWriter, r *http.Request) int {
	res := s.resourceOf(r.URL.Path)
	objs, ok := s.sorted[res]
	if !ok {
		s.writeError(w, http.StatusNotFound, "Unrecognized request URL (GET: "+r.URL.Path+")")
		return http.StatusNotFound
	}
	q := r.URL.Query()
	limit := 10
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			s.writeError(w, http.StatusBadRequest, "Invalid integer: "+v)
			return http.StatusBadRequest
		}
		limit = n
	}
	var gte, lt int64 = -1 << 62, 1 << 62
	// Stripe's created[gte]/created[lt]; Chargebee's date[after]/date[before]
	// (strict).
	for key, dst := range map[string]*int64{"created[gte]": &gte, "created[lt]": &lt, "date[after]": &gte, "date[before]": &lt} {
		if v := q.Get(key); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				s.writeError(w, http.StatusBadRequest, "Invalid timestamp: "+v)
				return http.StatusBadRequest
			}
			if key == "date[after]" {
				n++
			}
			*dst = n
		}
	}
	var sel []map[string]any
	for _, o := range objs {
		if c := s.created(o); c >= gte && c < lt {
			sel = append(sel, o)
		}
	}
	if s.Provider == "chargebee" {
		return s.chargebeePage(w, res, sel, limit, q.Get("offset"))
	}
	return s.stripePage(w, res, sel, limit, q.Get("starting_after"))
}

// listOrder sorts objects as the API lists them: Stripe newest first,
// Chargebee (sort_by[asc]=date) oldest first; ties by id.
func (s *Server) listOrder(objs []map[string]any) []map[string]any {
	out := slices.Clone(objs)
	desc := s.Provider != "chargebee"
	slices.SortStableFunc(out, func(a, b map[string]any) int {
		c := cmp.Or(cmp.Compare(s.created(a), s.created(b)), strings.Compare(a["id"].(string), b["id"].(string)))
		if desc {
			return -c
		}
		return c
	})
	return out
}

func (s *Server) stripePage(w http.ResponseWriter, res string, sel []map[string]any, limit int, after string) int {
	start := 0
	if after != "" {
		i := slices.IndexFunc(sel, func(o map[string]any) bool { return o["id"] == after })
		if i < 0 {
			s.writeError(w, http.StatusBadRequest, "No such object: '"+after+"'")
			return http.StatusBadRequest
		}
		start = i + 1
	}
	end := min(start+limit, len(sel))
	page := sel[start:end]
	if page == nil {
		page = []map[string]any{}
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{
		"object": "list", "url": "/v1/" + res, "has_more": end < len(sel), "data": page,
	})
	return http.StatusOK
}

func (s *Server) chargebeePage(w http.ResponseWriter, res string, sel []map[string]any, limit int, offset string) int {
	start := 0
	if offset != "" {
		var parts []string
		if err := json.Unmarshal([]byte(offset), &parts); err != nil || len(parts) != 2 {
			s.writeError(w, http.StatusBadRequest, "offset is invalid")
			return http.StatusBadRequest
		}
		n, err := strconv.Atoi(parts[1])
		if err != nil || n < 0 || n > len(sel) {
			s.writeError(w, http.StatusBadRequest, "offset is invalid")
			return http.StatusBadRequest
		}
		start = n
	}
	end := min(start+limit, len(sel))
	item := strings.TrimSuffix(res, "s")
	list := make([]map[string]any, 0, end-start)
	for _, o := range sel[start:end] {
		list = append(list, map[string]any{item: o})
	}
	body := map[string]any{"list": list}
	if end < len(sel) {
		next, _ := json.Marshal([]string{strconv.FormatInt(s.created(sel[end-1])*1000, 10), strconv.Itoa(end)})
		body["next_offset"] = string(next)
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(body)
	return http.StatusOK
}

// Objects makes n deterministic objects of a resource shaped like the
// provider's own (the fields the canonical converters read), created one
// hour apart from start with some ties, and ids whose order differs from
// creation order.
func Objects(provider, resource string, n int, start time.Time) []map[string]any {
	out := make([]map[string]any, 0, n)
	t := start.Unix()
	for i := 0; i < n; i++ {
		if i%7 != 3 { // every seventh shares its creation time with the one before
			t += 3600
		}
		h := fnv.New32a()
		fmt.Fprintf(h, "%s/%s/%d", provider, resource, i)
		suffix := fmt.Sprintf("%08x%04d", h.Sum32(), i)
		amount := int64(1000 + (i*7919)%50000)
		tax := amount * 8 / 100
		cust := fmt.Sprintf("cus_%03d", i%17)
		if provider == "chargebee" {
			out = append(out, chargebeeObject(resource, suffix, t, amount, tax, cust, i))
			continue
		}
		out = append(out, stripeObject(resource, suffix, t, amount, tax, cust, i))
	}
	return out
}

func stripeObject(resource, suffix string, t, amount, tax int64, cust string, i int) map[string]any {
	switch resource {
	case "invoices":
		status := []string{"paid", "open", "void", "draft", "uncollectible"}[i%5]
		return map[string]any{
			"id": "in_" + suffix, "object": "invoice", "created": t, "currency": "usd", "customer": cust,
			"status": status, "total": amount + tax, "total_excluding_tax": amount, "subtotal": amount,
			"amount_due": amount + tax, "amount_paid": amount + tax, "livemode": false,
		}
	case "charges":
		return map[string]any{
			"id": "ch_" + suffix, "object": "charge", "created": t, "currency": "usd", "customer": cust,
			"amount": amount, "amount_refunded": 0, "status": "succeeded", "paid": true, "refunded": false,
			"livemode": false,
		}
	case "refunds":
		return map[string]any{
			"id": "re_" + suffix, "object": "refund", "created": t, "currency": "usd",
			"amount": amount / 2, "charge": "ch_" + suffix, "status": "succeeded",
		}
	case "credit_notes":
		return map[string]any{
			"id": "cn_" + suffix, "object": "credit_note", "created": t, "currency": "usd", "customer": cust,
			"invoice": "in_" + suffix, "status": "issued", "total": amount / 3, "subtotal": amount / 3,
			"total_excluding_tax": amount / 3, "type": "pre_payment",
		}
	}
	return map[string]any{"id": resource + "_" + suffix, "created": t}
}

func chargebeeObject(resource, suffix string, t, amount, tax int64, cust string, i int) map[string]any {
	switch resource {
	case "invoices":
		status := []string{"paid", "payment_due", "voided", "pending", "not_paid", "posted"}[i%6]
		return map[string]any{
			"id": "inv_" + suffix, "object": "invoice", "date": t, "currency_code": "USD",
			"customer_id": cust, "status": status, "total": amount + tax, "tax": tax,
			"sub_total": amount, "price_type": "tax_exclusive", "updated_at": t + 60,
		}
	case "credit_notes":
		return map[string]any{
			"id": "cn_" + suffix, "object": "credit_note", "date": t, "currency_code": "USD",
			"customer_id": cust, "status": "refunded", "total": amount / 3, "type": "refundable",
			"reference_invoice_id": "inv_" + suffix, "updated_at": t + 60,
		}
	}
	return map[string]any{"id": resource + "_" + suffix, "date": t}
}
