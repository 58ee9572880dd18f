package importer

// Jurisdiction codes and modelling choices (docs/rules.md says the same)
//
// Codes are upper-case [A-Z0-9-]+; a local tax's id is its code in lower
// case; a state's tax is <xx>-state (ga-state), the embedded pack's id, so
// that the two merge. Output lists jurisdictions sorted by code; rates are
// written as quoted percentages ("1.9%", "6.875%"), dates as YYYY-MM-DD,
// ZIP patterns as quoted strings. The header comment names the format, the
// effective date and where it came from, every source file with its record
// count, the columns used, every quirk resolved (file:line) and what was
// skipped or left without a match. Nothing in it depends on the clock: the
// same input bytes give the same output bytes.
//
// Layering. Every jurisdiction carries extend: true: a later rule file of
// the same code is folded into the first definition (rules/extend.go), so
// --rules embedded:us.yaml --rules imported.yaml keeps the pack's state
// rate, taxability and nexus threshold and adds the file's local taxes,
// and the file still works on its own. Local taxes name their state's tax
// in taxability_from: they are on the state's base (SaaS exempt in the
// pack is exempt from the local tax too), except for the categories they
// list (food and drug from SST files).
//
// Quirks (all formats). A row that cannot be read (a rate that is not a
// number, shifted columns, a bad date, invalid CSV) is skipped; an exact
// duplicate row is dropped; of two dated rows of one jurisdiction that
// overlap, the later takes over from its start date (the earlier one ends
// the day before; one starting the same day is replaced). Each is noted as
// file:line in the header and through Options.Notice; Options.Strict makes
// the first one the import's error instead. A file with no valid row fails.
//
// Archives. A .zip (by its magic bytes) is replaced by the data files
// inside it, named "archive.zip:member.csv"; a gzip stream is read through
// gzip. Sizes are capped (archive.go).
//
// Effective date. Options.Effective, else the file name's (filedate.go):
// WIR2026Q2FEB18 -> 2026-04-01, TAXRATES_ZIP5_WA201809 -> 2018-09-01,
// SalesTaxRates1-1-26 -> 2026-01-01, taxrates-2019Q1 -> 2019-01-01.
//
// sst (Streamlined Sales Tax)
//
//   - Rate files (headerless, 9 columns: state FIPS, jurisdiction type,
//     jurisdiction code, general rate intrastate, general rate interstate,
//     food/drug rate intrastate, food/drug rate interstate, effective
//     from, effective to) and boundary files are told apart by content: a
//     first record of record type A, 4 or Z with at least 26 columns is a
//     boundary file; 9 columns is a rate file. A UTF-8 BOM is skipped.
//     Files may come in any order, several states at once.
//   - The interstate pair (columns 5 and 7) is used, or the intrastate
//     pair (4 and 6) with Options.Intrastate; the header says which.
//   - One jurisdiction per (state FIPS, jurisdiction type, code):
//     type 45 -> US-XX (level state, named after the state, match
//     {country: US, state: XX}); type 00 -> US-XX-COUNTY-<FIPS county>
//     (level county); type 01 -> US-XX-CITY-<FIPS place> (level city); any
//     other type is a special taxing district -> US-XX-DISTRICT-<type>-<code>
//     (level district). XX is the USPS abbreviation of the state FIPS code.
//     Locals have parent US-XX when the state's own record is present.
//     Counties are named from the Census county FIPS list ("Fulton
//     County"), cities from the Census place code lists embedded in
//     fipsdata/places.txt ("City of Atlanta", "Town of Avalon") where
//     listed, else by code ("GA city 05000 (FIPS place 1305000)").
//   - Every row is one dated rate entry: from = effective-from; the file's
//     effective-to is the last day in force, so to = that day + 1; 29991231
//     and 99991231 mean open-ended (no to).
//   - The food/drug rate becomes taxability of food and drug: for a local
//     tax "taxable" when it equals the general rate on every row (so that
//     the state's food exemption is not inherited); exempt when it is 0 on
//     every row and "x%" when it is one other constant; otherwise (it
//     changes over time unlike the general rate) food and drug are exempt
//     from the main tax and a second tax <id>-food-drug with taxability
//     {default: exempt, food: taxable, drug: taxable} carries the column's
//     dated rates, so every dated step is kept exactly.
//   - Without a boundary file locals have no match: they are reached only
//     through a transaction's explicit jurisdictions (which bring their
//     parent US-XX). With one, ZIP-level (z) records give each county,
//     city and district a postal_code match ({country: US, state: XX,
//     postal_code: [...]}, adjacent and overlapping ranges merged,
//     "55401-55405" or "55103"). The records used are those in force at
//     Options.Effective when given, else at the file name's date when some
//     are in force then, else at the latest day any z record covers (the
//     file's newest snapshot). A rule match carries no dates, so the
//     boundary is a snapshot while rates keep their full history. Address
//     (A) and ZIP+4 (4) records are skipped: the rules match on five-digit
//     ZIPs. Boundary codes with no rate row (counties without a local tax)
//     are listed in the header. No z record in force at a date given with
//     Options.Effective is an error.
//
// avalara-zip
//
//   - Columns are found by header name (case-insensitive; CombinedRate is
//     accepted for EstimatedCombinedRate). The effective date (the file
//     name's, or Options.Effective) is every rate's from (open end).
//   - One state jurisdiction US-XX per state with StateRate (a row with
//     another StateRate is a corrupt row), and one local jurisdiction
//     US-XX-ZIP-<zip> per ZIP, level district (the figure adds up county,
//     city and special taxes), parent US-XX, match {country: US, state: XX,
//     postal_code: "<zip>"}, rate = EstimatedCombinedRate - StateRate,
//     named after TaxRegionName. A ZIP without local tax keeps its
//     jurisdiction, with no tax. A RiskLevel above 1 is copied into the
//     notes. A ZIP given twice with the same figures is a duplicate; with
//     other figures, a corrupt row.
//
// cdtfa (California)
//
//   - The header line (Location,Rate,County,Type[,Notes]) is searched for in
//     the first 50 lines; the preamble is searched for a date ("January 1,
//     2026"). Options.Effective (or the file name's date) wins over the
//     preamble's; without any the import fails.
//   - Rates printed by a spreadsheet ("7.7499999999999999E-2") are read
//     exactly and rounded to 6 decimal places (0.0775); a figure with real
//     digits beyond 6 places is refused rather than changed.
//   - US-CA carries the statewide 7.25% (6% state + 1.25% uniform local),
//     tax ca-state. Each City row becomes US-CA-CITY-<NAME> (level city),
//     matched on {country: US, state: CA, city: <Location>} (city names are
//     unique in California; a clash of codes is an error), with the add-on
//     total - 7.25%. Each County row is the county's unincorporated area:
//     US-CA-COUNTY-<NAME>, level county, with its add-on, matched on the
//     county but on none of the county's cities in the list:
//     {county: [Alameda, Alameda County], not: {city: [Alameda, Albany,
//     ...]}}. Locations at exactly 7.25% keep a jurisdiction without
//     taxes. Rows without a rate that only refer the reader to other rows
//     ("Please refer to ... within Yuba County.") are skipped after
//     checking that the county's unincorporated row exists. Names are
//     folded to ASCII for codes: La Cañada Flintridge ->
//     US-CA-CITY-LA-CANADA-FLINTRIDGE. Text that is not UTF-8 is read as
//     Latin-1.
//
// wa-dor (Washington): see wador.go.
