// Package money holds what taxagg knows about money: ISO 4217 currencies and
// their minor units, strict decimal parsing, and the named rounding modes.
//
// Nothing here uses binary floating point, and nothing here changes
// shopspring/decimal's package-level settings (they are global and racy):
// every operation takes its places and rounding mode explicitly.
package money

import "strings"

// Currency is an ISO 4217 currency with its minor unit: the number of
// decimal places its amounts carry (USD 2, JPY 0, BHD 3, CLF 4).
type Currency struct {
	Code   string
	Digits int32
}

// LookupCurrency returns the ISO 4217 currency with the given alphabetic code.
// The code is matched case-insensitively. Funds and precious-metal codes that
// have no minor unit in ISO 4217 (XAU, XDR, XXX, ...) are not currencies that
// amounts can be written in, and are not found.
func LookupCurrency(code string) (Currency, bool) {
	if len(code) != 3 {
		return Currency{}, false
	}
	var key [3]byte
	for i := 0; i < 3; i++ {
		c := code[i]
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		if c < 'A' || c > 'Z' {
			return Currency{}, false
		}
		key[i] = c
	}
	d, ok := minorUnits[key]
	if !ok {
		return Currency{}, false
	}
	return Currency{Code: string(key[:]), Digits: d}, true
}

// minorUnits is the ISO 4217 list of active codes (list one, as published by
// the maintenance agency) with their minor units. Codes whose minor unit is
// "N.A." are left out on purpose.
var minorUnits = func() map[[3]byte]int32 {
	m := make(map[[3]byte]int32, 200)
	add := func(digits int32, codes string) {
		for _, c := range strings.Fields(codes) {
			m[[3]byte{c[0], c[1], c[2]}] = digits
		}
	}
	add(0, "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF")
	add(3, "BHD IQD JOD KWD LYD OMR TND")
	add(4, "CLF UYW")
	add(2, `AED AFN ALL AMD AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BOV BRL BSD BTN BWP BYN BZD
		CAD CDF CHE CHF CHW COP COU CRC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP
		GMD GTQ GYD HKD HNL HTG HUF IDR ILS INR IRR JMD KES KGS KHR KPW KYD KZT LAK LBP LKR LRD LSL
		MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD PAB PEN PGK
		PHP PKR PLN QAR RON RSD RUB SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB
		TJS TMT TOP TRY TTD TWD TZS UAH USD USN UYU UZS VED VES WST XCD XCG YER ZAR ZMW ZWG`)
	return m
}()
