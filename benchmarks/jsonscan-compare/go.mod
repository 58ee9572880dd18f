module github.com/taxagg/taxagg/benchmarks/jsonscan-compare

go 1.26.8

require (
	github.com/goccy/go-json v0.12.0
	github.com/taxagg/taxagg v0.0.0
	github.com/valyala/fastjson v1.6.10
)

replace github.com/taxagg/taxagg => ../..
