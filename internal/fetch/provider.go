package fetch

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Default API bases, used when Options.APIBase is empty. Chargebee's holds
// the site in place of {site}.
const (
	StripeAPIBase    = "https://api.stripe.com"
	ChargebeeAPIBase = "https://{site}.chargebee.com/api/v2"
)

// PageSize is the number of objects asked for per page (the most both APIs
// allow).
const PageSize = 100

// provider knows one billing API: its list URLs, authentication, page shape
// and error shape.
type provider interface {
	name() string
	// resources lists the resource names the provider serves, in their
	// documented order.
	resources() []string
	// request builds the GET for one page of resource after cursor ("" for
	// the first page).
	request(resource, cursor string, w window) (*http.Request, error)
	// parsePage reads one page body: its objects, and the cursor of the next
	// page ("" when this was the last).
	parsePage(resource string, body []byte) (objs []json.RawMessage, next string, err error)
	// key returns an object's id and creation time in unix seconds.
	key(obj json.RawMessage) (id string, created int64, err error)
	// apiMessage extracts the API's own error message from an error body.
	apiMessage(body []byte) string
}

// window is a creation-time window in unix seconds; a zero bound is open.
type window struct {
	from, to int64 // from inclusive, to exclusive
	hasFrom  bool
	hasTo    bool
}

func newWindow(from, to time.Time) window {
	var w window
	if !from.IsZero() {
		w.from, w.hasFrom = from.Unix(), true
	}
	if !to.IsZero() {
		w.to, w.hasTo = to.Unix(), true
	}
	return w
}

func (w window) contains(created int64) bool {
	return (!w.hasFrom || created >= w.from) && (!w.hasTo || created < w.to)
}

// ---- Stripe ----

type stripe struct {
	base   string
	apiKey Secret
}

func (stripe) name() string { return "stripe" }

func (stripe) resources() []string {
	return []string{"invoices", "charges", "refunds", "credit_notes"}
}

func (p stripe) request(resource, cursor string, w window) (*http.Request, error) {
	q := url.Values{}
	q.Set("limit", strconv.Itoa(PageSize))
	if cursor != "" {
		q.Set("starting_after", cursor)
	}
	if w.hasFrom {
		q.Set("created[gte]", strconv.FormatInt(w.from, 10))
	}
	if w.hasTo {
		q.Set("created[lt]", strconv.FormatInt(w.to, 10))
	}
	req, err := http.NewRequest(http.MethodGet, p.base+"/v1/"+resource+"?"+q.Encode(), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+p.apiKey.reveal())
	return req, nil
}

func (stripe) parsePage(resource string, body []byte) ([]json.RawMessage, string, error) {
	var page struct {
		Object  string            `json:"object"`
		Data    []json.RawMessage `json:"data"`
		HasMore bool              `json:"has_more"`
	}
	if err := json.Unmarshal(body, &page); err != nil {
		return nil, "", fmt.Errorf("read list page: %w", err)
	}
	if page.Object != "list" {
		return nil, "", fmt.Errorf("read list page: object is %q, want \"list\"", page.Object)
	}
	if !page.HasMore {
		return page.Data, "", nil
	}
	if len(page.Data) == 0 {
		return nil, "", fmt.Errorf("read list page: has_more is true on an empty page")
	}
	id, _, err := stripe{}.key(page.Data[len(page.Data)-1])
	if err != nil {
		return nil, "", err
	}
	return page.Data, id, nil
}

func (stripe) key(obj json.RawMessage) (string, int64, error) {
	var k struct {
		ID      string      `json:"id"`
		Created json.Number `json:"created"`
	}
	if err := json.Unmarshal(obj, &k); err != nil {
		return "", 0, fmt.Errorf("read object: %w", err)
	}
	return checkKey(k.ID, k.Created, "created")
}

func (stripe) apiMessage(body []byte) string {
	var e struct {
		Error struct {
			Message string `json:"message"`
			Type    string `json:"type"`
			Code    string `json:"code"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &e) != nil || e.Error.Message == "" {
		return ""
	}
	return e.Error.Message
}

// ---- Chargebee ----

type chargebee struct {
	base   string
	apiKey Secret
}

func (chargebee) name() string { return "chargebee" }

func (chargebee) resources() []string { return []string{"invoices", "credit_notes"} }

// chargebeeItem is the key of each wrapped list entry.
func chargebeeItem(resource string) string {
	switch resource {
	case "invoices":
		return "invoice"
	case "credit_notes":
		return "credit_note"
	}
	return strings.TrimSuffix(resource, "s")
}

func (p chargebee) request(resource, cursor string, w window) (*http.Request, error) {
	q := url.Values{}
	q.Set("limit", strconv.Itoa(PageSize))
	if cursor != "" {
		q.Set("offset", cursor)
	}
	// Chargebee's timestamp filters are strict (after: >, before: <); the
	// window is also applied to every object fetched, so a server that read
	// them otherwise could not widen it.
	if w.hasFrom {
		q.Set("date[after]", strconv.FormatInt(w.from-1, 10))
	}
	if w.hasTo {
		q.Set("date[before]", strconv.FormatInt(w.to, 10))
	}
	q.Set("sort_by[asc]", "date")
	req, err := http.NewRequest(http.MethodGet, p.base+"/"+resource+"?"+q.Encode(), nil)
	if err != nil {
		return nil, err
	}
	// HTTP basic auth: the key is the user name, the password is empty.
	req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(p.apiKey.reveal()+":")))
	return req, nil
}

func (chargebee) parsePage(resource string, body []byte) ([]json.RawMessage, string, error) {
	var page struct {
		List       []map[string]json.RawMessage `json:"list"`
		NextOffset json.RawMessage              `json:"next_offset"`
	}
	if err := json.Unmarshal(body, &page); err != nil {
		return nil, "", fmt.Errorf("read list page: %w", err)
	}
	item := chargebeeItem(resource)
	objs := make([]json.RawMessage, 0, len(page.List))
	for i, entry := range page.List {
		obj, ok := entry[item]
		if !ok {
			return nil, "", fmt.Errorf("read list page: entry %d has no %q", i, item)
		}
		objs = append(objs, obj)
	}
	var next string
	if raw := bytes.TrimSpace(page.NextOffset); len(raw) > 0 && !bytes.Equal(raw, []byte("null")) {
		// next_offset is a string; pass it back as it came.
		if err := json.Unmarshal(raw, &next); err != nil {
			return nil, "", fmt.Errorf("read list page: next_offset: %w", err)
		}
	}
	return objs, next, nil
}

func (chargebee) key(obj json.RawMessage) (string, int64, error) {
	var k struct {
		ID   string      `json:"id"`
		Date json.Number `json:"date"`
	}
	if err := json.Unmarshal(obj, &k); err != nil {
		return "", 0, fmt.Errorf("read object: %w", err)
	}
	return checkKey(k.ID, k.Date, "date")
}

func (chargebee) apiMessage(body []byte) string {
	var e struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(body, &e) != nil {
		return ""
	}
	return e.Message
}

func checkKey(id string, created json.Number, field string) (string, int64, error) {
	if id == "" {
		return "", 0, fmt.Errorf("object has no id")
	}
	if created == "" {
		return "", 0, fmt.Errorf("object %s has no %s", id, field)
	}
	n, err := strconv.ParseInt(string(created), 10, 64)
	if err != nil {
		return "", 0, fmt.Errorf("object %s: %s %q is not unix seconds", id, field, created)
	}
	return id, n, nil
}
