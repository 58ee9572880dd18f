package money

import (
	"math/big"
	"unsafe"

	"github.com/shopspring/decimal"
)

// decimalMirror has decimal.Decimal's layout (value *big.Int; exp int32),
// so that a Decimal can be built around a big.Int that the caller owns
// without the copy NewFromBigInt makes. mirrorOK checks the layout at start
// up; when it does not hold (a future shopspring release), DecimalSlab
// falls back to decimal.New.
type decimalMirror struct {
	value *big.Int
	exp   int32
}

var mirrorOK = func() bool {
	if unsafe.Sizeof(decimalMirror{}) != unsafe.Sizeof(decimal.Decimal{}) {
		return false
	}
	b := big.NewInt(-12345)
	d := fromPartsUnsafe(b, -3)
	return d.Exponent() == -3 && d.CoefficientInt64() == -12345 && d.String() == "-12.345" &&
		d.Coefficient().Cmp(b) == 0
}()

func fromPartsUnsafe(b *big.Int, exp int32) decimal.Decimal {
	m := decimalMirror{value: b, exp: exp}
	return *(*decimal.Decimal)(unsafe.Pointer(&m))
}

func fromParts(b *big.Int, exp int32) decimal.Decimal {
	if mirrorOK {
		return fromPartsUnsafe(b, exp)
	}
	return decimal.NewFromBigInt(b, exp)
}
