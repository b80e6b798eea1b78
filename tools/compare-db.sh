#!/bin/sh
# compare-db.sh -- prove that two scan databases hold the same recognition results.
#
#   tools/compare-db.sh A.db B.db     diff the two dumps; exit 0 when identical
#   tools/compare-db.sh --dump A.db   print the dump of one database
#
# Used to check that a speed change leaves every result alone: scan the same
# files into two databases (before and after the change) and compare. The dump
# leaves out what legitimately differs between runs (ids, times, batch numbers,
# process ids, the store's file status) and prints, ordered by source path and
# page/region index:
#   page    path idx status reason payload form page respondent orientation dpi
#           width height xform residual case_number
#   region  path page idx var kind ink ink_label darkness score state doubt
#           has_ink digit digit_conf
#   item    review items (source reason form respondent case question var
#           proposal detail state current, and the page they point at)
#   resp    responses (form respondent case col name value status)
#   resp-r  respondents (form respondent complete n_cases)
# Floats are printed to 6 significant digits (the xform's numbers as stored).
set -eu

dump() {
  [ -f "$1" ] || { echo "compare-db: no such database: $1" >&2; exit 2; }
  sqlite3 -readonly -batch -noheader -separator '|' "$1" <<'SQL'
SELECT 'file', f.path, f.pages, f.error FROM files f ORDER BY f.path;
SELECT 'page', f.path, p.idx, p.status, p.reason, p.payload, p.form, p.page_number, p.respondent,
       p.orientation, printf('%.6g', p.dpi), p.width, p.height, p.xform, printf('%.6g', p.residual),
       p.case_number
  FROM pages p JOIN files f ON f.id = p.file ORDER BY f.path, p.idx;
SELECT 'region', f.path, p.idx, r.idx, r.var, r.kind, printf('%.6g', r.ink), printf('%.6g', r.ink_label),
       printf('%.6g', r.darkness), printf('%.6g', r.score), r.state, r.doubt, r.has_ink, r.digit,
       printf('%.6g', r.digit_conf)
  FROM regions r JOIN pages p ON p.id = r.page JOIN files f ON f.id = p.file ORDER BY f.path, p.idx, r.idx;
SELECT 'item', i.key, i.source, i.reason, i.form, i.respondent, i.case_number, i.question, i.var,
       i.proposal, i.detail, i.state, i.current, f.path, p.idx
  FROM review_items i LEFT JOIN pages p ON p.id = i.page LEFT JOIN files f ON f.id = p.file
  ORDER BY i.key;
SELECT 'resp', form, respondent, case_number, col, name, value, status FROM responses
  ORDER BY form, respondent, case_number, name;
SELECT 'resp-r', form, respondent, complete, n_cases FROM respondents ORDER BY form, respondent;
SQL
}

if [ "${1:-}" = "--dump" ]; then
  dump "$2"
  exit 0
fi
[ $# -eq 2 ] || { echo "usage: compare-db.sh A.db B.db | --dump A.db" >&2; exit 2; }
ta=$(mktemp) tb=$(mktemp)
trap 'rm -f "$ta" "$tb"' EXIT
dump "$1" >"$ta"
dump "$2" >"$tb"
if diff "$ta" "$tb" >/dev/null; then
  echo "compare-db: identical ($(grep -c '^page|' "$ta") pages, $(grep -c '^region|' "$ta") regions," \
       "$(grep -c '^item|' "$ta") review items, $(grep -c '^resp|' "$ta") responses)"
  exit 0
fi
echo "compare-db: DIFFERENT: $(diff "$ta" "$tb" | grep -c '^[<>]') lines differ; first differences:"
diff "$ta" "$tb" | head -n 40
exit 1
