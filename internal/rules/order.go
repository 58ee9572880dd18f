package rules

// Order is the tax's position in Program.Taxes (dependency order): a dense
// index from 0 to len(Program.Taxes)-1, for tables indexed by tax.
func (t *Tax) Order() int { return t.order }

// Index is the jurisdiction's position in Program.Jurisdictions: a dense
// index from 0 to len(Program.Jurisdictions)-1, for tables indexed by
// jurisdiction. Two programs' jurisdictions may share an index.
func (j *Jurisdiction) Index() int { return j.index }
