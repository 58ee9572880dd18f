package importer

// Jurisdiction codes and modelling choices (docs/rules.md says the same)
//
// Codes are upper-case [A-Z0-9-]+; tax ids are the code in lower case
// (plus a category suffix for split taxes, below). Output lists
// jurisdictions sorted by code; rates are written as quoted percentages
// ("1.9%", "6.875%"), dates as YYYY-MM-DD, ZIP patterns as quoted strings.
// The header comment names the format, the import time, the effective date
// (or "not given"), every source file with its record count, and what was
// skipped or left without a match.
//
// sst (Streamlined Sales Tax)
//
//   - Rate files (headerless, 9 columns) and boundary files are told apart
//     by content: a first record of record type A, 4 or Z with at least 26
//     columns is a boundary file; 9 columns is a rate file. A UTF-8 BOM is
//     skipped. Files may come in any order, several states at once.
//   - One jurisdiction per (state FIPS, jurisdiction type, code):
//     type 45 -> US-XX (level state, named after the state, match
//     {country: US, state: XX}); type 00 -> US-XX-COUNTY-<FIPS county>
//     (level county); type 01 -> US-XX-CITY-<FIPS place> (level city); any
//     other type is a special taxing district -> US-XX-DISTRICT-<type>-<code>
//     (level district). XX is the USPS abbreviation of the state FIPS code.
//     Locals have parent US-XX when the state's own record is present.
//     SST files carry no names, so names say what the code is:
//     "MN county 053 (FIPS 27053)".
//   - Every row is one dated rate entry: from = effective-from; the file's
//     effective-to is the last day in force, so to = that day + 1; 29991231
//     and 99991231 mean open-ended (no to). Identical duplicate rows are
//     dropped (counted in the header); overlapping rows of one jurisdiction
//     are an error naming both lines.
//   - Reduced-rate columns become taxability of the category food (column
//     5), drug (6) and residential_utility (7): nothing when the column
//     equals the general rate on every row; `category: exempt` when it is 0
//     on every row and `category: "x%"` when it is one other constant on
//     every row; otherwise (it changes over time unlike the general rate)
//     the category is exempt from the main tax and a second tax
//     <id>-<category> with taxability {default: exempt, <category>: taxable}
//     carries the column's dated rates, so every dated step is kept exactly.
//   - Without a boundary file locals have no match: they are reached only
//     through a transaction's explicit jurisdictions. With one, ZIP-level (z)
//     records give each county, city and district a postal_code match
//     ({country: US, state: XX, postal_code: [...]}, adjacent and
//     overlapping ranges merged, "55401-55405" or "55103"). The records used
//     are those in force at Options.Effective when given, else at the latest
//     day any z record covers (the file's newest snapshot; records still in
//     force when some are open-ended). A rule match carries no dates, so the
//     boundary is a snapshot while rates keep their full history. Address
//     (A) and ZIP+4 (4) records are skipped: the rules match on five-digit
//     ZIPs. Boundary codes with no rate row (counties without a local tax)
//     are listed in the header. No z record in force at the chosen day is an
//     error.
//
// avalara-zip
//
//   - Columns are found by header name (case-insensitive; CombinedRate is
//     accepted for EstimatedCombinedRate). Options.Effective is required:
//     the tables carry no date, and it becomes every rate's from (open end).
//   - One state jurisdiction US-XX per state with StateRate (which must be
//     the same on every row of the state), and one local jurisdiction
//     US-XX-ZIP-<zip> per ZIP, level district (the figure adds up county,
//     city and special taxes), parent US-XX, match {country: US, state: XX,
//     postal_code: "<zip>"}, rate = EstimatedCombinedRate - StateRate.
//     A ZIP without local tax keeps its jurisdiction, with no tax. A
//     RiskLevel above 1 is copied into the notes. Malformed rows (a rate
//     that is not a number, a combined rate below the state rate, a
//     duplicate ZIP) stop the import with file and line.
//
// cdtfa (California)
//
//   - The header line (Location,Rate,County,Type[,Notes]) is searched for in
//     the first 50 lines; the preamble is searched for a date ("January 1,
//     2026"). Options.Effective wins; without either the import fails.
//   - Rates printed by a spreadsheet ("7.7499999999999999E-2") are read
//     exactly and rounded to 6 decimal places (0.0775); a figure with real
//     digits beyond 6 places is refused rather than changed.
//   - US-CA carries the statewide 7.25% (6% state + 1.25% uniform local).
//     Each City row becomes US-CA-CITY-<NAME> (level city), matched on
//     {country: US, state: CA, city: <Location>} (city names are unique in
//     California; a clash of codes is an error), with the add-on
//     total - 7.25%. Each County row is the county's unincorporated area:
//     US-CA-COUNTY-<NAME>, level county, with its add-on and no match,
//     because a match on the county would also take in the county's cities
//     and the rule language has no "not in a city"; transactions there name
//     the code in their jurisdictions. Locations at exactly 7.25% keep a
//     jurisdiction without taxes. Rows without a rate that only refer the
//     reader to other rows ("Please refer to ... within Yuba County.") are
//     skipped after checking that the county's unincorporated row exists.
//     Names are folded to ASCII for codes: La Cañada Flintridge ->
//     US-CA-CITY-LA-CANADA-FLINTRIDGE. Text that is not UTF-8 is read as
//     Latin-1.
