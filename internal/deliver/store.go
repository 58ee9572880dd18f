package deliver

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/taxagg/taxagg/internal/sqlitedb"
)

// The outbox's schema, as recorded in its file's schema_version table
// (see internal/sqlitedb). A file of another version, or of another kind
// (a --state of calc), is refused rather than misread.
const (
	SchemaName    = "taxagg outbox"
	SchemaVersion = 1
)

// The outbox's tables, prefixed deliver_.
const ddl = `
CREATE TABLE deliver_events (
	seq        INTEGER PRIMARY KEY,
	txn_id     TEXT NOT NULL,
	hash       TEXT NOT NULL,
	version    INTEGER NOT NULL,
	type       TEXT NOT NULL,
	body       BLOB NOT NULL,
	source     TEXT NOT NULL,
	created_at INTEGER NOT NULL,
	pruned_at  INTEGER NOT NULL DEFAULT 0,
	UNIQUE (txn_id, hash),
	UNIQUE (txn_id, version));
CREATE TABLE deliver_deliveries (
	event_seq   INTEGER NOT NULL REFERENCES deliver_events(seq),
	endpoint    TEXT NOT NULL,
	msg_id      TEXT NOT NULL UNIQUE,
	state       TEXT NOT NULL,
	attempts    INTEGER NOT NULL DEFAULT 0,
	next_at     INTEGER NOT NULL,
	last_status INTEGER NOT NULL DEFAULT 0,
	last_error  TEXT NOT NULL DEFAULT '',
	last_at     INTEGER NOT NULL DEFAULT 0,
	done_at     INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (event_seq, endpoint));
CREATE INDEX deliver_due ON deliver_deliveries (endpoint, state, next_at);
CREATE INDEX deliver_dead ON deliver_deliveries (state, done_at);
CREATE TABLE deliver_endpoints (
	id          TEXT PRIMARY KEY,
	disabled_at INTEGER NOT NULL,
	reason      TEXT NOT NULL);
`

// A deliver_events row whose pruned_at is set is a tombstone: its body is
// gone (emptied) and it has no deliveries left, but its (txn_id, hash) and
// version stay, so that reading its record again adds nothing and a new
// content of the transaction still gets the next version.
//
// A delivery's state: pending, delivered, dead (the dead-letter queue), or
// orphaned (its endpoint is no longer in the endpoints file; pending again
// when it comes back).

// Store is the outbox in a SQLite state file. It is safe for concurrent
// use by the goroutines of one process; several processes may open the same
// file (SQLite serialises their writes), but only one should deliver from it
// at a time (see Lock).
type Store struct {
	db   *sql.DB
	path string
}

// Open opens (creating when needed) the outbox in the SQLite file at path.
// A --state file of calc, aggregate or nexus is refused: an outbox needs a
// file of its own (see docs/deliver.md).
func Open(ctx context.Context, path string) (*Store, error) {
	db, err := sqlitedb.Open(path, sqlitedb.Options{Journal: sqlitedb.WAL, Create: true,
		Name: SchemaName, Hint: "the outbox needs a file of its own (give deliver another --state FILE than calc's)"})
	if err != nil {
		return nil, fmt.Errorf("outbox: %w", err)
	}
	if err := sqlitedb.Schema(ctx, db, path, SchemaName, SchemaVersion, ddl); err != nil {
		db.Close()
		return nil, fmt.Errorf("outbox: %w", err)
	}
	return &Store{db: db, path: path}, nil
}

// Close closes the file.
func (s *Store) Close() error { return s.db.Close() }

// Path is the file's path.
func (s *Store) Path() string { return s.path }

func ms(t time.Time) int64 { return t.UnixMilli() }

func fromMS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v).UTC()
}

// Incoming is one event to record.
type Incoming struct {
	TxnID  string
	Hash   string // of the record's content
	Record []byte // the calc record, compact JSON
	Source string // file:line where it was read
}

// RecordResult counts what Record did.
type RecordResult struct {
	New       int // events added
	Duplicate int // events already recorded
	// Deliveries is how many deliveries were added (new events times their
	// endpoints, and already recorded events for an endpoint added since).
	Deliveries int
}

// Record adds events and their deliveries, in one transaction: all of them
// or, on error, none. An event whose transaction id and content are already
// recorded is not added again; a new content of a known transaction is a
// new event with the next version. Each event is due at now for every
// endpoint that subscribes to its type; for an endpoint that is disabled it
// is dead at once (replay sends it when the endpoint is fixed).
func (s *Store) Record(ctx context.Context, in []Incoming, eps []Endpoint, now time.Time) (RecordResult, error) {
	var res RecordResult
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return res, fmt.Errorf("record: %w", err)
	}
	defer tx.Rollback()
	disabled, err := disabledIn(ctx, tx)
	if err != nil {
		return res, fmt.Errorf("record: %w", err)
	}
	for _, ev := range in {
		var seq, pruned int64
		err := tx.QueryRowContext(ctx, `SELECT seq, pruned_at FROM deliver_events WHERE txn_id = ? AND hash = ?`, ev.TxnID, ev.Hash).Scan(&seq, &pruned)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			var version int64
			if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) + 1 FROM deliver_events WHERE txn_id = ?`, ev.TxnID).Scan(&version); err != nil {
				return res, fmt.Errorf("record: %w", err)
			}
			body := Payload(EventTaxCalculated, now, ev.TxnID, version, ev.Record)
			r, err := tx.ExecContext(ctx, `INSERT INTO deliver_events (txn_id, hash, version, type, body, source, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
				ev.TxnID, ev.Hash, version, EventTaxCalculated, body, ev.Source, ms(now))
			if err != nil {
				return res, fmt.Errorf("record: %w", err)
			}
			if seq, err = r.LastInsertId(); err != nil {
				return res, fmt.Errorf("record: %w", err)
			}
			res.New++
		case err != nil:
			return res, fmt.Errorf("record: %w", err)
		default:
			res.Duplicate++
			if pruned != 0 {
				continue // delivered and pruned: its tombstone says so
			}
		}
		for i := range eps {
			ep := &eps[i]
			if !ep.Subscribes(EventTaxCalculated) {
				continue
			}
			state, lastErr := "pending", ""
			if reason, off := disabled[ep.ID]; off {
				state, lastErr = "dead", "endpoint disabled: "+reason
			}
			r, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO deliver_deliveries (event_seq, endpoint, msg_id, state, next_at, last_error, done_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
				seq, ep.ID, MessageID(ev.TxnID, ev.Hash, ep.ID), state, ms(now), lastErr, doneAt(state, now))
			if err != nil {
				return res, fmt.Errorf("record: %w", err)
			}
			if n, _ := r.RowsAffected(); n > 0 {
				res.Deliveries++
			}
		}
	}
	if err := tx.Commit(); err != nil {
		return RecordResult{}, fmt.Errorf("record: %w", err)
	}
	return res, nil
}

func doneAt(state string, now time.Time) int64 {
	if state == "pending" {
		return 0
	}
	return ms(now)
}

type querier interface {
	QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error)
}

func disabledIn(ctx context.Context, q querier) (map[string]string, error) {
	rows, err := q.QueryContext(ctx, `SELECT id, reason FROM deliver_endpoints`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	m := map[string]string{}
	for rows.Next() {
		var id, reason string
		if err := rows.Scan(&id, &reason); err != nil {
			return nil, err
		}
		m[id] = reason
	}
	return m, rows.Err()
}

// Disabled returns the disabled endpoints and why.
func (s *Store) Disabled(ctx context.Context) (map[string]string, error) {
	return disabledIn(ctx, s.db)
}

// Job is one delivery due to be attempted.
type Job struct {
	EventSeq  int64
	Endpoint  string
	MsgID     string
	TxnID     string
	Version   int64
	Body      []byte
	Attempts  int // attempts made before this one
	CreatedAt time.Time
}

// Key identifies a delivery.
func (j *Job) Key() DeliveryKey { return DeliveryKey{j.EventSeq, j.Endpoint} }

// DeliveryKey identifies a delivery: an event and an endpoint.
type DeliveryKey struct {
	EventSeq int64
	Endpoint string
}

// Due returns up to limit pending deliveries to the given endpoints whose
// time has come, the longest waiting first.
func (s *Store) Due(ctx context.Context, now time.Time, endpoints []string, limit int) ([]Job, error) {
	if len(endpoints) == 0 {
		return nil, nil
	}
	args := []any{ms(now)}
	for _, e := range endpoints {
		args = append(args, e)
	}
	args = append(args, limit)
	q := `SELECT d.event_seq, d.endpoint, d.msg_id, e.txn_id, e.version, e.body, d.attempts, e.created_at
		FROM deliver_deliveries d JOIN deliver_events e ON e.seq = d.event_seq
		WHERE d.state = 'pending' AND d.next_at <= ? AND d.endpoint IN (?` + strings.Repeat(",?", len(endpoints)-1) + `)
		ORDER BY d.next_at, d.event_seq, d.endpoint LIMIT ?`
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("outbox: %w", err)
	}
	defer rows.Close()
	var jobs []Job
	for rows.Next() {
		var j Job
		var created int64
		if err := rows.Scan(&j.EventSeq, &j.Endpoint, &j.MsgID, &j.TxnID, &j.Version, &j.Body, &j.Attempts, &created); err != nil {
			return nil, fmt.Errorf("outbox: %w", err)
		}
		j.CreatedAt = fromMS(created)
		jobs = append(jobs, j)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("outbox: %w", err)
	}
	return jobs, nil
}

// NextDue returns when the earliest pending delivery to the given endpoints
// falls due, and false when none is pending.
func (s *Store) NextDue(ctx context.Context, endpoints []string) (time.Time, bool, error) {
	if len(endpoints) == 0 {
		return time.Time{}, false, nil
	}
	args := make([]any, len(endpoints))
	for i, e := range endpoints {
		args[i] = e
	}
	var next sql.NullInt64
	err := s.db.QueryRowContext(ctx, `SELECT MIN(next_at) FROM deliver_deliveries WHERE state = 'pending' AND endpoint IN (?`+strings.Repeat(",?", len(endpoints)-1)+`)`, args...).Scan(&next)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("outbox: %w", err)
	}
	if !next.Valid {
		return time.Time{}, false, nil
	}
	return fromMS(next.Int64), true, nil
}

// Outcome is what became of one attempt, as recorded.
type Outcome struct {
	State  string    // pending (retry at Next), delivered or dead
	Next   time.Time // for pending
	Status int       // HTTP status, 0 for none
	Error  string    // why it failed ("" when delivered)
}

// Finished is an attempt's outcome, to be recorded by Step.
type Finished struct {
	Key     DeliveryKey
	Outcome Outcome
	At      time.Time
	// PushBack, when set, holds every pending delivery to the endpoint back
	// until then (a Retry-After speaks for the whole endpoint).
	PushBack time.Time
	// Disable, when set, disables the endpoint for this reason and moves
	// its pending deliveries to the dead-letter queue.
	Disable string
	// Unsent marks an attempt that was counted but never sent (the run
	// stopped first): the count is taken back and nothing else recorded.
	Unsent bool
}

// Want asks Step for up to N due deliveries to one endpoint, other than
// those in Skip (in flight already).
type Want struct {
	Endpoint string
	N        int
	Skip     map[DeliveryKey]bool
}

// StepResult says what Step did besides recording.
type StepResult struct {
	Moved int // pending deliveries moved to the dead-letter queue by disables
}

// Step records finished attempts, then takes the due deliveries wanted and
// counts an attempt for each, all in one transaction (one commit for a
// whole round of requests). An attempt is counted before it is sent, so
// that a process that dies sending still moves along the retry schedule;
// a success is recorded whatever happened to the delivery meanwhile (its
// endpoint disabled, say), a failure only while it is still pending.
func (s *Store) Step(ctx context.Context, now time.Time, done []Finished, want []Want) ([]Job, StepResult, error) {
	var res StepResult
	if len(done) == 0 && len(want) == 0 {
		return nil, res, nil
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, res, fmt.Errorf("outbox: %w", err)
	}
	defer tx.Rollback()
	for _, f := range done {
		if err := finishIn(ctx, tx, f, &res); err != nil {
			return nil, res, fmt.Errorf("outbox: %w", err)
		}
	}
	var jobs []Job
	for _, w := range want {
		if w.N <= 0 {
			continue
		}
		rows, err := tx.QueryContext(ctx, `SELECT d.event_seq, d.endpoint, d.msg_id, e.txn_id, e.version, e.body, d.attempts, e.created_at
			FROM deliver_deliveries d JOIN deliver_events e ON e.seq = d.event_seq
			WHERE d.endpoint = ? AND d.state = 'pending' AND d.next_at <= ?
			ORDER BY d.next_at, d.event_seq LIMIT ?`, w.Endpoint, ms(now), w.N+len(w.Skip))
		if err != nil {
			return nil, res, fmt.Errorf("outbox: %w", err)
		}
		n := 0
		for rows.Next() && n < w.N {
			var j Job
			var created int64
			if err := rows.Scan(&j.EventSeq, &j.Endpoint, &j.MsgID, &j.TxnID, &j.Version, &j.Body, &j.Attempts, &created); err != nil {
				rows.Close()
				return nil, res, fmt.Errorf("outbox: %w", err)
			}
			if w.Skip[j.Key()] {
				continue
			}
			j.CreatedAt = fromMS(created)
			jobs = append(jobs, j)
			n++
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, res, fmt.Errorf("outbox: %w", err)
		}
	}
	for _, j := range jobs {
		if _, err := tx.ExecContext(ctx, `UPDATE deliver_deliveries SET attempts = attempts + 1, last_at = ? WHERE event_seq = ? AND endpoint = ?`,
			ms(now), j.EventSeq, j.Endpoint); err != nil {
			return nil, res, fmt.Errorf("outbox: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, StepResult{}, fmt.Errorf("outbox: %w", err)
	}
	return jobs, res, nil
}

type execer interface {
	ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error)
}

func finishIn(ctx context.Context, tx execer, f Finished, res *StepResult) error {
	k, o := f.Key, f.Outcome
	var err error
	switch {
	case f.Unsent:
		_, err = tx.ExecContext(ctx, `UPDATE deliver_deliveries SET attempts = MAX(attempts - 1, 0) WHERE event_seq = ? AND endpoint = ?`, k.EventSeq, k.Endpoint)
		return err
	case o.State == "delivered":
		_, err = tx.ExecContext(ctx, `UPDATE deliver_deliveries SET state = 'delivered', last_status = ?, last_error = '', done_at = ? WHERE event_seq = ? AND endpoint = ? AND state != 'delivered'`,
			o.Status, ms(f.At), k.EventSeq, k.Endpoint)
	case o.State == "dead":
		_, err = tx.ExecContext(ctx, `UPDATE deliver_deliveries SET state = 'dead', last_status = ?, last_error = ?, done_at = ? WHERE event_seq = ? AND endpoint = ? AND state = 'pending'`,
			o.Status, o.Error, ms(f.At), k.EventSeq, k.Endpoint)
	default:
		_, err = tx.ExecContext(ctx, `UPDATE deliver_deliveries SET next_at = ?, last_status = ?, last_error = ? WHERE event_seq = ? AND endpoint = ? AND state = 'pending'`,
			ms(o.Next), o.Status, o.Error, k.EventSeq, k.Endpoint)
	}
	if err != nil {
		return err
	}
	if !f.PushBack.IsZero() {
		if _, err := tx.ExecContext(ctx, `UPDATE deliver_deliveries SET next_at = MAX(next_at, ?) WHERE endpoint = ? AND state = 'pending'`, ms(f.PushBack), k.Endpoint); err != nil {
			return err
		}
	}
	if f.Disable != "" {
		if _, err := tx.ExecContext(ctx, `INSERT INTO deliver_endpoints (id, disabled_at, reason) VALUES (?, ?, ?) ON CONFLICT (id) DO UPDATE SET disabled_at = excluded.disabled_at, reason = excluded.reason`,
			k.Endpoint, ms(f.At), f.Disable); err != nil {
			return err
		}
		r, err := tx.ExecContext(ctx, `UPDATE deliver_deliveries SET state = 'dead', last_error = ?, done_at = ? WHERE endpoint = ? AND state = 'pending'`,
			"endpoint disabled: "+f.Disable, ms(f.At), k.Endpoint)
		if err != nil {
			return err
		}
		n, _ := r.RowsAffected()
		res.Moved += int(n)
	}
	return nil
}

// Counts are the outbox's deliveries by state, for one endpoint or in all.
type Counts struct {
	Pending, Delivered, Dead int
	// Orphaned are the deliveries parked because their endpoint is not in
	// the endpoints file any more (see Orphan).
	Orphaned int
	// OldestPending is when the oldest pending delivery's event was
	// recorded (zero when none is pending).
	OldestPending time.Time
	// NextDue is when the earliest pending delivery falls due.
	NextDue time.Time
}

// Counts returns the deliveries by state, per endpoint.
func (s *Store) Counts(ctx context.Context) (map[string]*Counts, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT d.endpoint, d.state, COUNT(*), MIN(e.created_at), MIN(d.next_at)
		FROM deliver_deliveries d JOIN deliver_events e ON e.seq = d.event_seq GROUP BY d.endpoint, d.state`)
	if err != nil {
		return nil, fmt.Errorf("outbox: %w", err)
	}
	defer rows.Close()
	m := map[string]*Counts{}
	for rows.Next() {
		var ep, state string
		var n int
		var oldest, next int64
		if err := rows.Scan(&ep, &state, &n, &oldest, &next); err != nil {
			return nil, fmt.Errorf("outbox: %w", err)
		}
		c := m[ep]
		if c == nil {
			c = &Counts{}
			m[ep] = c
		}
		switch state {
		case "pending":
			c.Pending, c.OldestPending, c.NextDue = n, fromMS(oldest), fromMS(next)
		case "delivered":
			c.Delivered = n
		case "dead":
			c.Dead = n
		case "orphaned":
			c.Orphaned = n
		}
	}
	return m, rows.Err()
}

// Total adds up per-endpoint counts.
func Total(m map[string]*Counts) Counts {
	var t Counts
	for _, c := range m {
		t.Pending += c.Pending
		t.Delivered += c.Delivered
		t.Dead += c.Dead
		t.Orphaned += c.Orphaned
		if !c.OldestPending.IsZero() && (t.OldestPending.IsZero() || c.OldestPending.Before(t.OldestPending)) {
			t.OldestPending = c.OldestPending
		}
		if c.Pending > 0 && (t.NextDue.IsZero() || c.NextDue.Before(t.NextDue)) {
			t.NextDue = c.NextDue
		}
	}
	return t
}

// DeadLetter is one delivery in the dead-letter queue.
type DeadLetter struct {
	MsgID    string `json:"webhook_id"`
	Endpoint string `json:"endpoint"`
	// State is dead, or orphaned (the endpoint is not in the endpoints
	// file any more).
	State      string    `json:"state"`
	TxnID      string    `json:"transaction_id"`
	Version    int64     `json:"version"`
	Attempts   int       `json:"attempts"`
	LastStatus int       `json:"last_status,omitempty"`
	LastError  string    `json:"last_error"`
	LastAt     time.Time `json:"last_attempt_at,omitzero"`
	DeadAt     time.Time `json:"dead_at"`
	RecordedAt time.Time `json:"recorded_at"`
	Source     string    `json:"source"`
	Body       []byte    `json:"-"`
}

// Filter picks dead letters: by endpoint and by webhook id (empty: any).
type Filter struct {
	Endpoints []string
	IDs       []string
}

// where selects the filter's deliveries in the dead-letter queue: dead
// ones, and with orphaned set the orphaned ones too.
func (f Filter) where(orphaned bool) (string, []any) {
	w := ` WHERE d.state = 'dead'`
	if orphaned {
		w = ` WHERE d.state IN ('dead', 'orphaned')`
	}
	var args []any
	if len(f.Endpoints) > 0 {
		w += ` AND d.endpoint IN (?` + strings.Repeat(",?", len(f.Endpoints)-1) + `)`
		for _, e := range f.Endpoints {
			args = append(args, e)
		}
	}
	if len(f.IDs) > 0 {
		w += ` AND d.msg_id IN (?` + strings.Repeat(",?", len(f.IDs)-1) + `)`
		for _, id := range f.IDs {
			args = append(args, id)
		}
	}
	return w, args
}

// Dead returns the dead letters the filter picks, and the orphaned
// deliveries, oldest first.
func (s *Store) Dead(ctx context.Context, f Filter) ([]DeadLetter, error) {
	w, args := f.where(true)
	rows, err := s.db.QueryContext(ctx, `SELECT d.msg_id, d.endpoint, d.state, e.txn_id, e.version, d.attempts, d.last_status, d.last_error, d.last_at, d.done_at, e.created_at, e.source, e.body
		FROM deliver_deliveries d JOIN deliver_events e ON e.seq = d.event_seq`+w+` ORDER BY d.done_at, d.event_seq, d.endpoint`, args...)
	if err != nil {
		return nil, fmt.Errorf("outbox: %w", err)
	}
	defer rows.Close()
	var out []DeadLetter
	for rows.Next() {
		var d DeadLetter
		var last, dead, created int64
		if err := rows.Scan(&d.MsgID, &d.Endpoint, &d.State, &d.TxnID, &d.Version, &d.Attempts, &d.LastStatus, &d.LastError, &last, &dead, &created, &d.Source, &d.Body); err != nil {
			return nil, fmt.Errorf("outbox: %w", err)
		}
		d.LastAt, d.DeadAt, d.RecordedAt = fromMS(last), fromMS(dead), fromMS(created)
		out = append(out, d)
	}
	return out, rows.Err()
}

// Replay puts the dead letters the filter picks back in the outbox, due at
// now with a fresh retry schedule and the same webhook ids, and enables
// their endpoints again. It returns how many it requeued and the endpoints
// it enabled.
func (s *Store) Replay(ctx context.Context, f Filter, now time.Time) (int, []string, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, nil, fmt.Errorf("outbox: %w", err)
	}
	defer tx.Rollback()
	w, args := f.where(false)
	rows, err := tx.QueryContext(ctx, `SELECT DISTINCT d.endpoint FROM deliver_deliveries d`+w, args...)
	if err != nil {
		return 0, nil, fmt.Errorf("outbox: %w", err)
	}
	var eps []string
	for rows.Next() {
		var e string
		if err := rows.Scan(&e); err != nil {
			rows.Close()
			return 0, nil, fmt.Errorf("outbox: %w", err)
		}
		eps = append(eps, e)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, nil, fmt.Errorf("outbox: %w", err)
	}
	r, err := tx.ExecContext(ctx, `UPDATE deliver_deliveries AS d SET state = 'pending', attempts = 0, next_at = ?, done_at = 0`+w, append([]any{ms(now)}, args...)...)
	if err != nil {
		return 0, nil, fmt.Errorf("outbox: %w", err)
	}
	n, _ := r.RowsAffected()
	var enabled []string
	for _, e := range eps {
		r, err := tx.ExecContext(ctx, `DELETE FROM deliver_endpoints WHERE id = ?`, e)
		if err != nil {
			return 0, nil, fmt.Errorf("outbox: %w", err)
		}
		if k, _ := r.RowsAffected(); k > 0 {
			enabled = append(enabled, e)
		}
	}
	if err := tx.Commit(); err != nil {
		return 0, nil, fmt.Errorf("outbox: %w", err)
	}
	return int(n), enabled, nil
}

// OrphanedError is the last_error of an orphaned delivery.
const OrphanedError = "endpoint not in the endpoints file"

// Orphan parks the pending deliveries to endpoints not in configured as
// orphaned (not pending: nothing will send them, and they are not counted
// as waiting), and puts orphaned deliveries to an endpoint that is in
// configured back to pending, due at now. It returns how many it parked
// and how many it put back.
func (s *Store) Orphan(ctx context.Context, configured []string, now time.Time) (parked, back int, err error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, 0, fmt.Errorf("outbox: %w", err)
	}
	defer tx.Rollback()
	in, args := `''`, []any{}
	if len(configured) > 0 {
		in = `?` + strings.Repeat(",?", len(configured)-1)
		for _, id := range configured {
			args = append(args, id)
		}
	}
	r, err := tx.ExecContext(ctx, `UPDATE deliver_deliveries SET state = 'orphaned', last_error = ?, done_at = ? WHERE state = 'pending' AND endpoint NOT IN (`+in+`)`,
		append([]any{OrphanedError, ms(now)}, args...)...)
	if err != nil {
		return 0, 0, fmt.Errorf("outbox: %w", err)
	}
	n, _ := r.RowsAffected()
	parked = int(n)
	r, err = tx.ExecContext(ctx, `UPDATE deliver_deliveries SET state = 'pending', last_error = '', next_at = ?, done_at = 0 WHERE state = 'orphaned' AND endpoint IN (`+in+`)`,
		append([]any{ms(now)}, args...)...)
	if err != nil {
		return 0, 0, fmt.Errorf("outbox: %w", err)
	}
	n, _ = r.RowsAffected()
	back = int(n)
	if err := tx.Commit(); err != nil {
		return 0, 0, fmt.Errorf("outbox: %w", err)
	}
	return parked, back, nil
}

// Pruned counts what Prune removed.
type Pruned struct {
	Events     int // events reduced to tombstones
	Deliveries int // their delivery rows, deleted
}

// Prune reduces to a tombstone every event recorded before cutoff that no
// endpoint needs any more: each of its deliveries was delivered (or
// purged) before cutoff. Their delivery rows are deleted. A tombstone
// keeps the event's transaction id, content hash and version, nothing else:
// reading its record again adds nothing and sends nothing. An event with a
// delivery pending, dead or orphaned is kept whole (see Purge).
func (s *Store) Prune(ctx context.Context, cutoff, now time.Time) (Pruned, error) {
	var p Pruned
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return p, fmt.Errorf("outbox: %w", err)
	}
	defer tx.Rollback()
	c := ms(cutoff)
	if _, err := tx.ExecContext(ctx, `CREATE TEMP TABLE IF NOT EXISTS deliver_prune (seq INTEGER PRIMARY KEY)`); err != nil {
		return p, fmt.Errorf("outbox: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM deliver_prune`); err != nil {
		return p, fmt.Errorf("outbox: %w", err)
	}
	r, err := tx.ExecContext(ctx, `INSERT INTO deliver_prune (seq) SELECT e.seq FROM deliver_events e
		WHERE e.pruned_at = 0 AND e.created_at < ? AND NOT EXISTS (SELECT 1 FROM deliver_deliveries d
			WHERE d.event_seq = e.seq AND (d.state NOT IN ('delivered', 'purged') OR d.done_at >= ?))`, c, c)
	if err != nil {
		return p, fmt.Errorf("outbox: %w", err)
	}
	n, _ := r.RowsAffected()
	p.Events = int(n)
	if n > 0 {
		r, err = tx.ExecContext(ctx, `DELETE FROM deliver_deliveries WHERE event_seq IN (SELECT seq FROM deliver_prune)`)
		if err != nil {
			return p, fmt.Errorf("outbox: %w", err)
		}
		n, _ = r.RowsAffected()
		p.Deliveries = int(n)
		if _, err := tx.ExecContext(ctx, `UPDATE deliver_events SET body = x'', pruned_at = ? WHERE seq IN (SELECT seq FROM deliver_prune)`, max(ms(now), 1)); err != nil {
			return p, fmt.Errorf("outbox: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM deliver_prune`); err != nil {
		return p, fmt.Errorf("outbox: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return Pruned{}, fmt.Errorf("outbox: %w", err)
	}
	return p, nil
}

// Purge takes the dead and orphaned deliveries the filter picks out of the
// dead-letter queue for good: they are marked purged, never sent, and not
// added again when their records are read again; Prune removes them with
// their events once those are older than its cutoff. It returns how many
// it purged.
func (s *Store) Purge(ctx context.Context, f Filter, now time.Time) (int, error) {
	w, args := f.where(true)
	r, err := s.db.ExecContext(ctx, `UPDATE deliver_deliveries AS d SET state = 'purged', done_at = ?`+w, append([]any{ms(now)}, args...)...)
	if err != nil {
		return 0, fmt.Errorf("outbox: %w", err)
	}
	n, _ := r.RowsAffected()
	return int(n), nil
}
