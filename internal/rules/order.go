package rules

// Order is the tax's position in Program.Taxes (dependency order): a dense
// index from 0 to len(Program.Taxes)-1, for tables indexed by tax.
func (t *Tax) Order() int { return t.order }
