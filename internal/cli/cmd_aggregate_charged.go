package cli

import (
	"io"
	"sync"

	"github.com/taxagg/taxagg/internal/aggregate"
	"github.com/taxagg/taxagg/internal/pipeline"
	"github.com/taxagg/taxagg/internal/stream"
)

// chargedSink builds `aggregate --charged`: tax charged against tax owed
// per ship-to state and currency.
type chargedSink struct {
	period aggregate.Period
	mu     sync.Mutex
	parts  []*aggregate.Charged
}

func (s *chargedSink) NewWorker() pipeline.WorkerSink {
	c := aggregate.NewCharged(s.period)
	s.mu.Lock()
	s.parts = append(s.parts, c)
	s.mu.Unlock()
	return chargedWorker{c}
}

func (s *chargedSink) Ordered() bool             { return false }
func (s *chargedSink) Emit(*pipeline.Item) error { return nil }

func (s *chargedSink) rows() []aggregate.ChargedRow {
	total := aggregate.NewCharged(s.period)
	for _, p := range s.parts {
		total.Merge(p)
	}
	return total.Rows()
}

type chargedWorker struct{ c *aggregate.Charged }

func (w chargedWorker) Render(*pipeline.Item)    {}
func (w chargedWorker) Accept(it *pipeline.Item) { w.c.Add(&it.Tx, &it.Result) }

var chargedColumns = []stream.Column{
	{Name: "country"}, {Name: "state"}, {Name: "period"}, {Name: "currency"},
	{Name: "transactions", Kind: stream.Number}, {Name: "with_tax_charged", Kind: stream.Number},
	{Name: "tax_owed", Kind: stream.Money}, {Name: "tax_charged", Kind: stream.Money},
	{Name: "tax_difference", Kind: stream.Money},
}

func writeCharged(w io.Writer, target rowTarget, rows []aggregate.ChargedRow) error {
	rw, _, err := target.open(w, chargedColumns, stream.RowOptions{})
	if err != nil {
		return err
	}
	for _, r := range rows {
		if err := rw.Write([]string{r.Country, r.State, r.Period, r.Currency,
			stream.Itoa(r.Transactions), stream.Itoa(r.WithCharged),
			formatMoney(r.TaxOwed, r.Digits), formatMoney(r.TaxCharged, r.Digits), formatMoney(r.Difference, r.Digits)}); err != nil {
			return err
		}
	}
	return rw.Close()
}
