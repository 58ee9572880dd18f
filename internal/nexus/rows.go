package nexus

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"

	"github.com/shopspring/decimal"

	"github.com/taxagg/taxagg/internal/money"
	"github.com/taxagg/taxagg/internal/rules"
	"github.com/taxagg/taxagg/internal/txn"
)

// Status is where a jurisdiction stands against its threshold.
type Status uint8

const (
	Monitoring Status = iota // below 85% of the test
	Upcoming                 // at 85% or more of the test, not crossed
	Exceeded                 // crossed (or, for calendar years, crossed the year before)
)

func (s Status) String() string { return [...]string{"monitoring", "upcoming", "exceeded"}[s] }

// Row is one jurisdiction in one window period: a calendar year, or the
// twelve months ending on the last day of the data.
type Row struct {
	Jurisdiction *rules.Jurisdiction
	Window       rules.Window
	// Period is "2025" for a calendar year, "2024-03-15/2025-03-14" (ISO
	// 8601 interval) for the rolling window as of the last day.
	Period string
	// From and AsOf are the first and last day the figures cover: AsOf is
	// the last day of the data when it falls inside the period.
	From, AsOf   txn.Date
	Currency     money.Currency
	Sales        decimal.Decimal // net of refunds, in Currency
	Transactions int64           // sales in Currency (refunds do not count)
	// OtherCurrency counts the transactions in the period in other
	// currencies: left out of Sales and Transactions, never converted.
	OtherCurrency int64
	Status        Status
	// CarriedOver: a calendar year whose previous year crossed the
	// threshold, so that nexus holds from its first day.
	CarriedOver bool
	// Crossed: the threshold was crossed in this period (calendar year),
	// or on some day up to AsOf (rolling window, the first such day);
	// CrossedDate and CrossedID name the transaction that crossed it.
	Crossed     bool
	CrossedDate txn.Date
	CrossedID   string
}

// SalesPercent is Sales as a percentage of the sales threshold, truncated
// to one decimal ("84.9"); false when the rules set no sales threshold.
func (r *Row) SalesPercent() (string, bool) {
	n := r.Jurisdiction.Nexus
	if !n.HasSales || n.Sales.Sign() <= 0 {
		return "", false
	}
	return percent(r.Sales, n.Sales), true
}

// TransactionsPercent is Transactions as a percentage of the transaction
// threshold; false when the rules set none.
func (r *Row) TransactionsPercent() (string, bool) {
	n := r.Jurisdiction.Nexus
	if n.Transactions <= 0 {
		return "", false
	}
	return percent(decimal.NewFromInt(r.Transactions), decimal.NewFromInt(n.Transactions)), true
}

var thousand = decimal.NewFromInt(1000)

// percent is 100·v/of truncated toward zero to one decimal, exactly.
func percent(v, of decimal.Decimal) string {
	q, _ := v.Mul(thousand).QuoRem(of, 0)
	return q.Shift(-1).StringFixed(1)
}

var (
	hundred   = decimal.NewFromInt(100)
	upcomingP = decimal.NewFromInt(85)
)

// met reports whether sales and count pass the test of n with its
// thresholds scaled to pct percent (100: crossed; 85: upcoming). A
// threshold is met when the figure is greater than or equal to it.
func met(n *rules.Nexus, sales decimal.Decimal, count int64, pct decimal.Decimal) bool {
	salesMet := n.HasSales && sales.Mul(hundred).GreaterThanOrEqual(n.Sales.Mul(pct))
	countMet := n.Transactions > 0 &&
		decimal.NewFromInt(count).Mul(hundred).GreaterThanOrEqual(decimal.NewFromInt(n.Transactions).Mul(pct))
	if n.Combine == rules.CombineAll {
		return (salesMet || !n.HasSales) && (countMet || n.Transactions <= 0) &&
			(n.HasSales || n.Transactions > 0)
	}
	return salesMet || countMet
}

// dayTotal is one jurisdiction's merged figures for one day.
type dayTotal struct {
	day   txn.Date
	sales decimal.Decimal
	count int64
	other int64
}

// crossing is a row whose crossing day is known and whose crossing
// transaction is still to be found in the spill files: base is the running
// total before the day.
type crossing struct {
	row       int // index into the rows
	baseSales decimal.Decimal
	baseCount int64
}

type jurDay struct {
	j   *rules.Jurisdiction
	day txn.Date
}

// Rows evaluates every jurisdiction with a nexus threshold that saw at least
// one transaction, sorted by jurisdiction code and period. Call it once,
// after every Worker is done.
func (t *Tracker) Rows(ctx context.Context) ([]Row, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	merged := map[*rules.Jurisdiction][]dayTotal{}
	idx := map[dayKey]int{}
	var last txn.Date
	hasDay := false
	for _, w := range t.workers {
		if w.err != nil {
			return nil, w.err
		}
		if w.hasDay && (!hasDay || w.last > last) {
			last, hasDay = w.last, true
		}
		for si := range w.sums {
			s := &w.sums[si]
			k := dayKey{w.jurs[s.jur], s.day}
			i, ok := idx[k]
			if !ok {
				idx[k] = len(merged[k.j])
				merged[k.j] = append(merged[k.j], dayTotal{day: k.day, sales: s.sales.Decimal(), count: s.count, other: s.other})
				continue
			}
			d := &merged[k.j][i]
			d.sales = d.sales.Add(s.sales.Decimal())
			d.count += s.count
			d.other += s.other
		}
	}
	jurs := make([]*rules.Jurisdiction, 0, len(merged))
	for j := range merged {
		jurs = append(jurs, j)
	}
	sort.Slice(jurs, func(a, b int) bool { return jurs[a].Code < jurs[b].Code })

	var rows []Row
	var cross []crossing
	for _, j := range jurs {
		days := merged[j]
		sort.Slice(days, func(a, b int) bool { return days[a].day < days[b].day })
		if j.Nexus.Window == rules.WindowRolling12Months {
			rows, cross = t.rolling(j, days, last, rows, cross)
		} else {
			rows, cross = t.calendar(j, days, last, rows, cross)
		}
	}
	if err := t.findCrossers(ctx, rows, cross); err != nil {
		return nil, err
	}
	return rows, nil
}

// calendar evaluates a calendar_year jurisdiction: one row per year from its
// first day with data to the last day of the data. A year whose previous
// year crossed is exceeded from its first day (carried over).
func (t *Tracker) calendar(j *rules.Jurisdiction, days []dayTotal, last txn.Date, rows []Row, cross []crossing) ([]Row, []crossing) {
	n := j.Nexus
	first := days[0].day.Time().Year()
	lastYear := last.Time().Year()
	i := 0
	prevCrossed := false
	for y := first; y <= lastYear; y++ {
		r := Row{
			Jurisdiction: j, Window: n.Window, Period: strconv.Itoa(y),
			From: txn.DateOf(y, 1, 1), AsOf: min(txn.DateOf(y, 12, 31), last),
			Currency: t.opt.Currency, CarriedOver: prevCrossed,
		}
		var cr crossing
		for ; i < len(days) && days[i].day.Time().Year() == y; i++ {
			d := &days[i]
			before, beforeCount := r.Sales, r.Transactions
			r.Sales = r.Sales.Add(d.sales)
			r.Transactions += d.count
			r.OtherCurrency += d.other
			if !r.Crossed && met(n, r.Sales, r.Transactions, hundred) {
				r.Crossed, r.CrossedDate = true, d.day
				cr = crossing{baseSales: before, baseCount: beforeCount}
			}
		}
		r.Status = status(n, &r, r.Crossed || r.CarriedOver)
		rows = append(rows, r)
		if r.Crossed {
			cr.row = len(rows) - 1
			cross = append(cross, cr)
		}
		prevCrossed = r.Crossed
	}
	return rows, cross
}

// rolling evaluates a rolling_12_months jurisdiction: the test is run at the
// close of each day with data, over the twelve months ending that day; the
// row gives the window ending on the last day of the data, and the first
// crossing.
func (t *Tracker) rolling(j *rules.Jurisdiction, days []dayTotal, last txn.Date, rows []Row, cross []crossing) ([]Row, []crossing) {
	n := j.Nexus
	// prefix sums: psales[i], pcount[i] are the totals of days[:i].
	psales := make([]decimal.Decimal, len(days)+1)
	pcount := make([]int64, len(days)+1)
	for i, d := range days {
		psales[i+1] = psales[i].Add(d.sales)
		pcount[i+1] = pcount[i] + d.count
	}
	r := Row{Jurisdiction: j, Window: n.Window, Currency: t.opt.Currency}
	var cr crossing
	lo := 0
	for i, d := range days {
		start := WindowStart(d.day)
		for days[lo].day < start {
			lo++
		}
		sales := psales[i+1].Sub(psales[lo])
		count := pcount[i+1] - pcount[lo]
		if met(n, sales, count, hundred) {
			r.Crossed, r.CrossedDate = true, d.day
			cr = crossing{baseSales: psales[i].Sub(psales[lo]), baseCount: pcount[i] - pcount[lo]}
			break
		}
	}
	r.From, r.AsOf = WindowStart(last), last
	r.Period = r.From.String() + "/" + r.AsOf.String()
	for _, d := range days {
		if d.day >= r.From {
			r.Sales = r.Sales.Add(d.sales)
			r.Transactions += d.count
			r.OtherCurrency += d.other
		}
	}
	r.Status = status(n, &r, r.Crossed)
	rows = append(rows, r)
	if r.Crossed {
		cr.row = len(rows) - 1
		cross = append(cross, cr)
	}
	return rows, cross
}

func status(n *rules.Nexus, r *Row, exceeded bool) Status {
	switch {
	case exceeded:
		return Exceeded
	case met(n, r.Sales, r.Transactions, upcomingP):
		return Upcoming
	}
	return Monitoring
}

// WindowStart is the first day of the rolling twelve-month window that ends
// on day d: the day after d's date one year earlier, where February 29
// becomes February 28 (so the window ending 2024-02-29 starts 2023-03-01,
// and the one ending on December 31 is the calendar year).
func WindowStart(d txn.Date) txn.Date {
	y, m, dd := d.Time().Date()
	y--
	if m == 2 && dd == 29 {
		dd = 28
	}
	return txn.DateOf(y, m, dd) + 1
}

// findCrossers reads the spill files once, keeping the records of the
// crossing days only, and names each crossing's transaction: the first of
// the day, in the day's order, after which the running totals pass the
// test.
func (t *Tracker) findCrossers(ctx context.Context, rows []Row, cross []crossing) error {
	if len(cross) == 0 {
		return nil
	}
	want := make(map[jurDay][]spillRec, len(cross))
	for _, c := range cross {
		r := &rows[c.row]
		want[jurDay{r.Jurisdiction, r.CrossedDate}] = nil
	}
	for _, w := range t.workers {
		if w.spill == nil {
			continue
		}
		sr, err := w.spill.reader()
		if err != nil {
			return err
		}
		// The crossing days by this worker's jurisdiction numbers: a
		// lookup without pointers per record read.
		mine := make(map[uint64]struct{}, len(cross))
		for ji, j := range w.jurs {
			for k := range want {
				if k.j == j {
					mine[uint64(ji)<<32|uint64(uint32(k.day))] = struct{}{}
				}
			}
		}
		keep := func(ju uint32, day txn.Date) bool {
			_, ok := mine[uint64(ju)<<32|uint64(uint32(day))]
			return ok
		}
		for n := 0; ; n++ {
			if n%4096 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			var rec spillRec
			ok, err := sr.next(&rec, keep)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return err
			}
			if ok {
				k := jurDay{w.jurs[rec.jur], rec.day}
				want[k] = append(want[k], rec)
			}
		}
	}
	for _, c := range cross {
		r := &rows[c.row]
		recs := want[jurDay{r.Jurisdiction, r.CrossedDate}]
		sortDay(recs)
		sales, count := c.baseSales, c.baseCount
		if len(recs) > 0 && met(r.Jurisdiction.Nexus, sales, count, hundred) {
			// A rolling window can pass before the day's first sale when
			// a day of net refunds left it: that first sale is the one
			// the crossing is dated by.
			r.CrossedID = recs[0].id
		}
		for i := 0; i < len(recs) && r.CrossedID == ""; i++ {
			sales = sales.Add(recs[i].amount)
			if !recs[i].refund {
				count++
			}
			if met(r.Jurisdiction.Nexus, sales, count, hundred) {
				r.CrossedID = recs[i].id
			}
		}
		if r.CrossedID == "" {
			return fmt.Errorf("nexus: %s: no crossing transaction found on %s", r.Jurisdiction.Code, r.CrossedDate)
		}
	}
	return nil
}

// sortDay puts one day's records in the order they count: records with a
// date only first, then timestamped ones by instant; ties by id. Ids are
// unique within a run (duplicates are settled before), so the order is
// total and independent of the input order.
func sortDay(recs []spillRec) {
	sort.Slice(recs, func(a, b int) bool {
		x, y := &recs[a], &recs[b]
		xt, yt := !x.at.IsZero(), !y.at.IsZero()
		switch {
		case xt != yt:
			return !xt
		case xt && !x.at.Equal(y.at):
			return x.at.Before(y.at)
		}
		return x.id < y.id
	})
}
