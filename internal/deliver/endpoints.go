package deliver

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/taxagg/taxagg/internal/ratelimit"
)

// EventTaxCalculated is the type of the event made from one line of calc's
// output.
const EventTaxCalculated = "tax.calculated"

// EventTypes are the event types there are.
var eventTypes = []string{EventTaxCalculated}

// Endpoint is one receiver as the endpoints file describes it. Its secret is
// not here: the file names where the secret is (SecretEnv or SecretFile) and
// the caller resolves it (see Secrets).
type Endpoint struct {
	ID         string
	URL        string
	SecretEnv  string
	SecretFile string
	// Events are the event types sent to it (all when the file lists none).
	Events []string
	// Rate is the most requests per second (0: no limit); Burst how many may
	// go at once after a quiet spell.
	Rate  float64
	Burst int
	// Concurrency is the most requests in flight at once.
	Concurrency int
	// Timeout bounds one request, answer included (0: the run's default).
	Timeout time.Duration
	// Line is where the endpoint starts in the file.
	Line int
}

// Subscribes reports whether the endpoint wants events of type t.
func (e *Endpoint) Subscribes(t string) bool {
	for _, x := range e.Events {
		if x == t {
			return true
		}
	}
	return false
}

// DefaultConcurrency is an endpoint's requests in flight when the file does
// not say.
const DefaultConcurrency = 4

// Issue is one problem of an endpoints file, at a line and column.
type Issue struct {
	File         string
	Line, Column int
	Msg          string
}

func (i Issue) String() string {
	if i.Line == 0 {
		return i.File + ": " + i.Msg
	}
	return fmt.Sprintf("%s:%d:%d: %s", i.File, i.Line, i.Column, i.Msg)
}

// ConfigError holds every issue of an endpoints file, sorted by position.
type ConfigError struct{ Issues []Issue }

func (e *ConfigError) Error() string {
	s := make([]string, len(e.Issues))
	for i, is := range e.Issues {
		s[i] = is.String()
	}
	return strings.Join(s, "\n")
}

var idPattern = regexp.MustCompile(`^[a-z0-9-]+$`)

var endpointKeys = []string{"id", "url", "secret_env", "secret_file", "events", "rate", "burst", "concurrency", "timeout"}

type cfgParser struct {
	file   string
	issues []Issue
}

func (p *cfgParser) errorf(n *yaml.Node, format string, args ...any) {
	is := Issue{File: p.file, Msg: fmt.Sprintf(format, args...)}
	if n != nil {
		is.Line, is.Column = n.Line, n.Column
	}
	p.issues = append(p.issues, is)
}

// ParseEndpoints reads an endpoints file:
//
//	endpoints:
//	  - id: erp
//	    url: https://erp.example.com/hooks/tax
//	    secret_env: ERP_WEBHOOK_SECRET   # or secret_file: PATH
//	    events: [tax.calculated]         # default: all
//	    rate: 10/s                       # optional
//	    burst: 5                         # optional, default: the rate per second, at least 1
//	    concurrency: 4                   # optional
//	    timeout: 10s                     # optional
//
// name is used in errors. Every issue is reported (file:line:col), sorted;
// an unknown key is an issue.
func ParseEndpoints(name string, r io.Reader) ([]Endpoint, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	p := &cfgParser{file: name}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &ConfigError{Issues: []Issue{{File: name, Msg: "empty file: want an endpoints: list"}}}
		}
		return nil, &ConfigError{Issues: []Issue{yamlIssue(name, err)}}
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	var eps []Endpoint
	if root.Kind != yaml.MappingNode {
		p.errorf(root, "want a mapping with an endpoints: list")
	} else {
		var list *yaml.Node
		for i := 0; i+1 < len(root.Content); i += 2 {
			k, v := root.Content[i], root.Content[i+1]
			switch k.Value {
			case "endpoints":
				list = v
			default:
				p.errorf(k, "unknown key %q (want endpoints)", k.Value)
			}
		}
		switch {
		case list == nil:
			p.errorf(root, "no endpoints: list")
		case list.Kind != yaml.SequenceNode:
			p.errorf(list, "endpoints: want a list")
		default:
			seen := map[string]int{}
			for _, n := range list.Content {
				ep, ok := p.endpoint(n)
				if !ok {
					continue
				}
				if line, dup := seen[ep.ID]; dup {
					p.errorf(n, "id %q is used twice (first at line %d)", ep.ID, line)
					continue
				}
				seen[ep.ID] = ep.Line
				eps = append(eps, ep)
			}
			if len(list.Content) == 0 {
				p.errorf(list, "endpoints: the list is empty")
			}
		}
	}
	if len(p.issues) > 0 {
		sort.SliceStable(p.issues, func(i, j int) bool {
			a, b := p.issues[i], p.issues[j]
			if a.Line != b.Line {
				return a.Line < b.Line
			}
			return a.Column < b.Column
		})
		return nil, &ConfigError{Issues: p.issues}
	}
	return eps, nil
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

func yamlIssue(name string, err error) Issue {
	if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
		line, _ := strconv.Atoi(m[1])
		return Issue{File: name, Line: line, Column: 1, Msg: m[2]}
	}
	return Issue{File: name, Msg: strings.TrimPrefix(err.Error(), "yaml: ")}
}

func (p *cfgParser) endpoint(n *yaml.Node) (Endpoint, bool) {
	ep := Endpoint{Line: n.Line, Concurrency: DefaultConcurrency}
	if n.Kind != yaml.MappingNode {
		p.errorf(n, "an endpoint is a mapping with id, url and secret_env or secret_file")
		return ep, false
	}
	before := len(p.issues)
	var idNode, urlNode *yaml.Node
	burstSet := false
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		scalar := func() (string, bool) {
			if v.Kind != yaml.ScalarNode {
				p.errorf(v, "%s: want a single value", k.Value)
				return "", false
			}
			return v.Value, true
		}
		switch k.Value {
		case "id":
			idNode = v
			if s, ok := scalar(); ok {
				ep.ID = s
				if !idPattern.MatchString(s) {
					p.errorf(v, "id %q: want lower-case letters, digits and dashes ([a-z0-9-]+)", s)
				}
			}
		case "url":
			urlNode = v
			if s, ok := scalar(); ok {
				ep.URL = s
				if err := checkURL(s); err != nil {
					p.errorf(v, "url: %v", err)
				}
			}
		case "secret_env":
			if s, ok := scalar(); ok {
				ep.SecretEnv = s
				if s == "" {
					p.errorf(v, "secret_env: want the name of an environment variable")
				}
			}
		case "secret_file":
			if s, ok := scalar(); ok {
				ep.SecretFile = s
				if s == "" {
					p.errorf(v, "secret_file: want a path")
				}
			}
		case "events":
			var list []*yaml.Node
			switch v.Kind {
			case yaml.SequenceNode:
				list = v.Content
			case yaml.ScalarNode:
				list = []*yaml.Node{v}
			default:
				p.errorf(v, "events: want a list of event types")
			}
			for _, e := range list {
				if e.Kind != yaml.ScalarNode || !known(e.Value) {
					p.errorf(e, "events: unknown event type %q (want %s)", e.Value, strings.Join(eventTypes, ", "))
					continue
				}
				ep.Events = append(ep.Events, e.Value)
			}
		case "rate":
			if s, ok := scalar(); ok {
				r, err := ratelimit.ParseRate(s)
				if err != nil {
					p.errorf(v, "%v", err)
				}
				ep.Rate = r
			}
		case "burst":
			if s, ok := scalar(); ok {
				b, err := strconv.Atoi(s)
				if err != nil || b < 1 {
					p.errorf(v, "burst %q: want a whole number of at least 1", s)
				}
				ep.Burst, burstSet = b, true
			}
		case "concurrency":
			if s, ok := scalar(); ok {
				c, err := strconv.Atoi(s)
				if err != nil || c < 1 || c > 256 {
					p.errorf(v, "concurrency %q: want a whole number from 1 to 256", s)
				}
				ep.Concurrency = c
			}
		case "timeout":
			if s, ok := scalar(); ok {
				d, err := time.ParseDuration(s)
				if err != nil || d <= 0 {
					p.errorf(v, "timeout %q: want a positive duration like 10s", s)
				}
				ep.Timeout = d
			}
		default:
			p.errorf(k, "unknown key %q (want one of %s)", k.Value, strings.Join(endpointKeys, ", "))
		}
	}
	if idNode == nil {
		p.errorf(n, "endpoint has no id")
	}
	if urlNode == nil {
		p.errorf(n, "endpoint %s has no url", ep.ID)
	}
	switch {
	case ep.SecretEnv == "" && ep.SecretFile == "":
		p.errorf(n, "endpoint %s has no secret: set secret_env or secret_file", ep.ID)
	case ep.SecretEnv != "" && ep.SecretFile != "":
		p.errorf(n, "endpoint %s: set secret_env or secret_file, not both", ep.ID)
	}
	if len(ep.Events) == 0 {
		ep.Events = append([]string(nil), eventTypes...)
	}
	if !burstSet && ep.Rate > 0 {
		ep.Burst = max(1, int(ep.Rate))
	}
	return ep, len(p.issues) == before
}

func known(t string) bool {
	for _, x := range eventTypes {
		if x == t {
			return true
		}
	}
	return false
}

func checkURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("%q is not a URL", s)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("%q: want an http or https URL", s)
	}
	if u.Host == "" {
		return fmt.Errorf("%q has no host", s)
	}
	if u.User != nil {
		return fmt.Errorf("%q: credentials do not belong in the URL (the signature authenticates)", redactURL(u))
	}
	return nil
}

func redactURL(u *url.URL) string {
	c := *u
	c.User = nil
	return c.String()
}
