package money

import (
	"strings"
	"testing"

	"github.com/shopspring/decimal"
)

func TestParseDecimal(t *testing.T) {
	tests := []struct {
		in, want, err string
	}{
		{"129.99", "129.99", ""},
		{"0", "0", ""},
		{"-12.50", "-12.5", ""},
		{"007.5", "7.5", ""},
		{"123456789012345678", "123456789012345678", ""},
		{"123456789012345678.123", "123456789012345678.123", ""},
		{"1234567890123456789", "", "more than 18 integer digits"},
		{"12.3.4", "", `"12.3.4" is not a decimal`},
		{"1e3", "", "exponents are not allowed"},
		{"1E-2", "", "exponents are not allowed"},
		{"NaN", "", `"NaN" is not a decimal`},
		{"Infinity", "", `"Infinity" is not a decimal`},
		{"+5", "", "not a decimal"},
		{".5", "", "not a decimal"},
		{"5.", "", "not a decimal"},
		{"1,234.50", "", "not a decimal"},
		{"", "", "is empty"},
		{" 5", "", "not a decimal"},
	}
	for _, tt := range tests {
		got, err := ParseDecimal(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("ParseDecimal(%q) = %v, %v; want error with %q", tt.in, got, err, tt.err)
			}
			continue
		}
		if err != nil || got.String() != tt.want {
			t.Errorf("ParseDecimal(%q) = %s, %v; want %s", tt.in, got, err, tt.want)
		}
	}
}

func TestParseAmountMinorUnits(t *testing.T) {
	tests := []struct{ code, in, err string }{
		{"USD", "1.23", ""},
		{"USD", "1.234", `"1.234" has 3 fraction digits; USD allows 2`},
		{"JPY", "100", ""},
		{"JPY", "100.5", "JPY allows 0"},
		{"BHD", "1.234", ""},
		{"CLF", "1.2345", ""},
	}
	for _, tt := range tests {
		cur, ok := LookupCurrency(tt.code)
		if !ok {
			t.Fatalf("no currency %s", tt.code)
		}
		_, err := ParseAmount(tt.in, cur)
		if (err == nil) != (tt.err == "") || err != nil && !strings.Contains(err.Error(), tt.err) {
			t.Errorf("ParseAmount(%q, %s) error %v, want %q", tt.in, tt.code, err, tt.err)
		}
	}
}

func TestCurrencies(t *testing.T) {
	tests := []struct {
		code   string
		digits int32
		ok     bool
	}{
		{"USD", 2, true}, {"eur", 2, true}, {"JPY", 0, true}, {"KRW", 0, true}, {"BHD", 3, true},
		{"KWD", 3, true}, {"TND", 3, true}, {"CLF", 4, true}, {"HUF", 2, true}, {"ISK", 0, true},
		{"XAU", 0, false}, {"XXX", 0, false}, {"ABC", 0, false}, {"US", 0, false}, {"USDX", 0, false},
	}
	for _, tt := range tests {
		c, ok := LookupCurrency(tt.code)
		if ok != tt.ok || ok && c.Digits != tt.digits {
			t.Errorf("LookupCurrency(%q) = %+v, %v; want digits %d, %v", tt.code, c, ok, tt.digits, tt.ok)
		}
	}
	if n := len(minorUnits); n < 150 {
		t.Errorf("only %d currencies: the ISO 4217 list has about 180", n)
	}
}

func TestDivHalfEven(t *testing.T) {
	tests := []struct{ a, b, want string }{
		{"1", "3", "0.333333333333"},
		{"2", "3", "0.666666666667"},
		{"-2", "3", "-0.666666666667"},
		{"100", "1.0725", "93.240093240093"},
		// Ties at the 13th place go to the even digit.
		{"0.0000000000025", "1", "0.000000000002"},
		{"0.0000000000035", "1", "0.000000000004"},
		{"-0.0000000000025", "1", "-0.000000000002"},
		{"10", "4", "2.5"},
	}
	for _, tt := range tests {
		got := Div(decimal.RequireFromString(tt.a), decimal.RequireFromString(tt.b))
		if !got.Equal(decimal.RequireFromString(tt.want)) {
			t.Errorf("Div(%s, %s) = %s, want %s", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestRound(t *testing.T) {
	tests := []struct {
		in   string
		mode RoundingMode
		want string
	}{
		{"0.125", HalfUp, "0.13"}, {"-0.125", HalfUp, "-0.13"},
		{"0.125", HalfEven, "0.12"}, {"0.135", HalfEven, "0.14"}, {"-0.125", HalfEven, "-0.12"},
		{"0.121", Up, "0.13"}, {"-0.121", Up, "-0.13"},
		{"0.129", Down, "0.12"}, {"-0.129", Down, "-0.12"},
		{"0.12", Up, "0.12"},
	}
	for _, tt := range tests {
		got := Round(decimal.RequireFromString(tt.in), 2, tt.mode)
		if got.StringFixed(2) != tt.want {
			t.Errorf("Round(%s, 2, %s) = %s, want %s", tt.in, tt.mode, got.StringFixed(2), tt.want)
		}
	}
	for _, name := range []string{"half_up", "half_even", "up", "down"} {
		m, ok := ParseRoundingMode(name)
		if !ok || m.String() != name {
			t.Errorf("ParseRoundingMode(%q) = %v, %v", name, m, ok)
		}
	}
}

func FuzzParseDecimal(f *testing.F) {
	for _, s := range []string{"1", "-0.5", "12.3.4", "1e3", "999999999999999999.99", ".5", "NaN"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDecimal(s)
		if err != nil {
			return
		}
		// What parses must be exactly what shopspring reads from the same text.
		want, err := decimal.NewFromString(s)
		if err != nil || !d.Equal(want) {
			t.Fatalf("ParseDecimal(%q) = %s, decimal reads %s (%v)", s, d, want, err)
		}
		// ParseFixed: the same coefficient and exponent whenever it fits,
		// and it fits whenever FixedOf does.
		fx, fits, ferr := ParseFixed(s)
		of, ofOK := FixedOf(d)
		if ferr != nil || fits != ofOK || fits && fx != of {
			t.Fatalf("ParseFixed(%q) = %+v, %v, %v; FixedOf(ParseDecimal) = %+v, %v", s, fx, fits, ferr, of, ofOK)
		}
		for _, code := range []string{"USD", "JPY", "BHD"} {
			cur, _ := LookupCurrency(code)
			a, aerr := ParseAmount(s, cur)
			af, afits, aferr := ParseAmountFixed(s, cur)
			if (aerr == nil) != (aferr == nil) || aerr != nil && aerr.Error() != aferr.Error() {
				t.Fatalf("%s %q: ParseAmount error %v, ParseAmountFixed error %v", code, s, aerr, aferr)
			}
			if aerr == nil && (afits != ofOK || afits && (af != of || !a.Equal(d))) {
				t.Fatalf("%s %q: ParseAmountFixed = %+v, %v; ParseAmount = %s", code, s, af, afits, a)
			}
		}
	})
}

// Errors from ParseFixed are ParseDecimal's, word for word.
func TestParseFixedErrors(t *testing.T) {
	for _, s := range []string{"", "12.3.4", "1e3", ".5", "5.", "NaN", "-", "1234567890123456789.5", "+1", " 1"} {
		_, derr := ParseDecimal(s)
		_, _, ferr := ParseFixed(s)
		if derr == nil || ferr == nil || derr.Error() != ferr.Error() {
			t.Errorf("%q: ParseDecimal error %v, ParseFixed error %v", s, derr, ferr)
		}
	}
	if f, fits, err := ParseFixed("-0012.50"); err != nil || !fits || f != (Fixed{-1250, -2}) {
		t.Errorf("ParseFixed(-0012.50) = %+v, %v, %v; want {-1250 -2}, true", f, fits, err)
	}
	if _, fits, err := ParseFixed("123456789012345678.9"); err != nil || fits {
		t.Errorf("ParseFixed of 19 digits: fits %v, err %v; want false, nil", fits, err)
	}
	if f, fits, err := ParseFixed("0000000000000000000000.000000000000000000001"); err != nil || !fits || f != (Fixed{1, -21}) {
		t.Errorf("ParseFixed with many zeros = %+v, %v, %v; want {1 -21}, true", f, fits, err)
	}
}

// TestDecimalHints checks that numbers written for people are refused with
// a hint, and the plain form when it is unambiguous.
func TestDecimalHints(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"$1,234.50", `"$1,234.50" is not a decimal: write 1234.50 (digits and a point, without a currency symbol or thousands separators)`},
		{"1,234.50", `"1,234.50" is not a decimal: write 1234.50 (digits and a point, without thousands separators or spaces)`},
		{"12,345,678", `"12,345,678" is not a decimal: write 12345678 (digits and a point, without thousands separators or spaces)`},
		{"€12.50", `"€12.50" is not a decimal: write 12.50 (digits and a point, without a currency symbol)`},
		{"USD 12.50", `"USD 12.50" is not a decimal: write digits and a point only, without a currency symbol or thousands separators (1234.50)`},
		{"1.234,50", `"1.234,50" is not a decimal: write digits and a point only, without thousands separators or spaces (1234.50)`},
		{"1 234.50", `"1 234.50" is not a decimal: write digits and a point only, without thousands separators or spaces (1234.50)`},
		{"12,5", `"12,5" is not a decimal: write digits and a point only, without thousands separators or spaces (1234.50)`},
		{"12.3.4", `"12.3.4" is not a decimal`},
		{"abc", `"abc" is not a decimal`},
		{"1e3", `"1e3" is not a decimal: exponents are not allowed`},
	} {
		_, err := ParseDecimal(tt.in)
		if err == nil || err.Error() != tt.want {
			t.Errorf("ParseDecimal(%q) = %v,\n want %s", tt.in, err, tt.want)
		}
	}
}
