#!/bin/sh
# `vecscale build --input docs.jsonl` + `vecscale search --query` end to end with the real
# default model (glove-100-sif, made by scripts/fetch_models.sh, which scripts/test.sh runs first):
# semantic hits, stored fields, ID rules, and bad input that must fail clearly and leave nothing.
# Usage: test_build_docs.sh VECSCALE FIXTURE-DIR TMPDIR
set -eu
. "$(dirname "$0")/expect.sh"
VS="$1"
FIX="$2"
T="$3"
rm -rf "$T"
mkdir -p "$T"
nothing_left() { # NAME DIR: neither DIR nor a temporary DIR.building-* exists
    if [ -e "$2" ] || ls -d "$2".building-* >/dev/null 2>&1; then bad "$1 left $2 behind"; else ok "$1 left nothing"; fi
}

if ! "$VS" model info glove-100-sif >/dev/null 2>&1; then
    echo "FAIL - model glove-100-sif not found: run scripts/fetch_models.sh (scripts/test.sh does)"
    exit 1
fi

# A built collection answers text queries by meaning: none of these words is in its document.
expect "build from .jsonl" 0 "built $T/c: 12 documents, model glove-100-sif (dimension 100), index Flat" \
    "$VS" build --input "$FIX/docs.jsonl" --output "$T/c" --batch-size 5
top() { # QUERY -> the id of the best hit
    "$VS" search --index "$T/c" --query "$1" -k 3 --json 2>/dev/null | sed -n 's/.*"rank":1,"id":\([0-9]*\),.*/\1/p'
}
for pair in "football match:3" "planets and rockets:5" "flu injection for kids:8" "violin concert:7" \
            "voters and government:10" "crops:12"; do
    q=${pair%:*}; want=${pair##*:}; got=$(top "$q")
    [ "$got" = "$want" ] && ok "query '$q' -> doc $want" || bad "query '$q' -> doc '$got', want $want"
done
"$VS" search --index "$T/c" --query "thunderstorm warning" -k 1 --json >"$T/hit" 2>/dev/null
grep -q '"id":6,.*"text":"Heavy rain and strong winds are forecast for the coast tomorrow.","fields":{"topic":"weather","source":{"name":"met office","year":2024}}}' \
    "$T/hit" && ok "hit carries text and nested fields" || bad "hit carries text and nested fields ($(cat "$T/hit"))"
[ "$("$VS" search --index "$T/c" --query cat --query dog -k 4 --json 2>/dev/null | wc -l)" -eq 8 ] &&
    ok "two queries, k=4: 8 JSON lines" || bad "two queries, k=4: 8 JSON lines"
expect "plain output" 0 "1\. 0\.[0-9]*  id 3  The striker" "$VS" search --index "$T/c" --query "football match" -k 1
# --filter: the grammar of POST /search's filter, errors named.
expect "filter keeps only passing documents" 0 '"rank":1,"id":2,.*"topic":"finance"' \
    "$VS" search --index "$T/c" --query "football match" -k 1 --filter '{"topic": {"in": ["finance"]}}' --json
expect "filter without index says so" 0 "evaluated per document (no payload index on: topic)" \
    "$VS" search --index "$T/c" --query "football match" -k 1 --filter '{"not": {"topic": "sport"}}'
expect "filter: unknown field" 1 "unknown field 'colour'" \
    "$VS" search --index "$T/c" --query "cat" --filter '{"colour": "red"}'
expect "filter: type mismatch" 1 "field 'topic' holds strings" "$VS" search --index "$T/c" --query "cat" --filter '{"topic": 3}'
# A query with no known word: a warning and no hits (not the fallback vector's neighbours),
# alone or beside a query that has hits.
"$VS" search --index "$T/c" --query "qzxvw blorptk" -k 3 --json >"$T/unk" 2>"$T/unk.err" && rc=0 || rc=$?
[ "$rc" -eq 0 ] && [ ! -s "$T/unk" ] && grep -q "knows none of the words of the query 'qzxvw blorptk'" "$T/unk.err" &&
    ok "no known word: warning, no hits" || bad "no known word: warning, no hits (exit $rc, $(cat "$T/unk" "$T/unk.err"))"
[ "$("$VS" search --index "$T/c" --query "qzxvw" --query "football match" -k 2 --json 2>/dev/null |
     grep -c '"query":"football match"')" -eq 2 ] &&
    [ "$("$VS" search --index "$T/c" --query "qzxvw" --query "football match" -k 2 --json 2>/dev/null | wc -l)" -eq 2 ] &&
    ok "no known word beside a real query: only the real one's hits" || bad "no known word beside a real query"
expect "no known word, plain output" 0 "(no results: no known word)" "$VS" search --index "$T/c" --query "qzxvw" -k 1
expect "IVF index" 0 "index IVF3,Flat" "$VS" build --input "$FIX/docs.jsonl" --output "$T/ivf" --index IVF --nlist 3
expect "IVF search" 0 '"rank":1,"id":5,' "$VS" search --index "$T/ivf" --query "planets and rockets" --nprobe 3 --json

# String ids: the ids themselves (one rule with the server: vecscale.h "Document ids"), not
# repeated in the fields; a document without "id" is numbered after the largest integer id.
printf '[{"id": "doc-a", "text": "a cat on a mat"},\n {"id": "doc-b", "text": "stock prices"},\n {"text": "tennis racket", "lang": "en"},\n {"id": "7", "text": "violin concert"}]\n' >"$T/s.json"
expect "string ids" 0 "1 of 4 documents have no \"id\"" "$VS" build --input "$T/s.json" --output "$T/s"
expect "string id is the id" 0 '"id":"doc-b","score":[0-9.]*,"text":"stock prices","fields":{}' \
    "$VS" search --index "$T/s" --query "shares and bonds" -k 1 --json
expect "\"7\" is the integer 7" 0 '"id":7,.*"text":"violin concert"' "$VS" search --index "$T/s" --query "orchestra" -k 1 --json
expect "missing id: after the largest integer" 0 '"id":8,.*"fields":{"lang":"en"}' "$VS" search --index "$T/s" --query "badminton" -k 1 --json
expect "plain output shows the string id" 0 "id doc-a  a cat" "$VS" search --index "$T/s" --query "kitten" -k 1

# Bad input: a clear message naming the place, exit 1, and no output directory.
printf '{"id": 1, "text": "a cat"}\n\n{"id": 2, "text": "dog"\n' >"$T/badline.jsonl"
expect "bad JSON line" 1 "badline.jsonl line 3: invalid JSON" "$VS" build --input "$T/badline.jsonl" --output "$T/x"
nothing_left "bad JSON line" "$T/x"
printf '{"id": 1, "text": "a cat"}\n{"id": 2, "title": "dog"}\n' >"$T/notext.jsonl"
expect "missing text" 1 'notext.jsonl line 2: no "text" field' "$VS" build --input "$T/notext.jsonl" --output "$T/x"
printf '{"id": 1, "text": "a cat"}\n{"id": 2, "text": 7}\n' >"$T/numtext.jsonl"
expect "text not a string" 1 'line 2: "text" is not a string' "$VS" build --input "$T/numtext.jsonl" --output "$T/x"
printf '{"id": 1, "text": "a cat"}\n{"id": 2, "text": "dog"}\n{"id": 1, "text": "bird"}\n' >"$T/dup.jsonl"
expect "duplicate id" 1 "duplicate id 1 (line 1 and line 3)" "$VS" build --input "$T/dup.jsonl" --output "$T/x"
printf '[{"id": "a", "text": "x"}, {"id": "a", "text": "y"}]' >"$T/dup.json"
expect "duplicate string id" 1 'duplicate id "a" (document 1 and document 2)' "$VS" build --input "$T/dup.json" --output "$T/x"
printf '{"id": 17, "text": "a cat"}\n{"id": "17", "text": "dog"}\n' >"$T/dup17.jsonl"
expect "17 and \"17\" are one id" 1 "duplicate id 17 (line 1 and line 2)" "$VS" build --input "$T/dup17.jsonl" --output "$T/x"
awk 'BEGIN { s = ""; for (i = 0; i < 257; i++) s = s "x"; printf "{\"id\": \"%s\", \"text\": \"a cat\"}\n", s }' >"$T/long.jsonl"
expect "string id too long" 1 'long.jsonl line 1: "id": a string id is at most 256 bytes (this one has 257)' \
    "$VS" build --input "$T/long.jsonl" --output "$T/x"
nothing_left "string id too long" "$T/x"
printf '{"id": "", "text": "a cat"}\n' >"$T/emptyid.jsonl"
expect "empty string id" 1 'emptyid.jsonl line 1: "id": an id must not be an empty string' "$VS" build --input "$T/emptyid.jsonl" --output "$T/x"
printf '{"id": -3, "text": "a cat"}\n' >"$T/neg.jsonl"
expect "negative id" 1 '"id" must be a non-negative integer' "$VS" build --input "$T/neg.jsonl" --output "$T/x"
printf '{"id": 1, "text": "a c\377t"}\n' >"$T/utf8.jsonl"
expect "invalid UTF-8" 1 "utf8.jsonl line 1: invalid UTF-8" "$VS" build --input "$T/utf8.jsonl" --output "$T/x"
printf '{"text": "a"}\n' >"$T/one.json"
expect "a .json file must be an array" 1 "expected a JSON array" "$VS" build --input "$T/one.json" --output "$T/x"
printf '\n\n' >"$T/empty.jsonl"
expect "no documents" 1 "no documents" "$VS" build --input "$T/empty.jsonl" --output "$T/x"
expect "unknown model" 1 "model 'no-such-model' not found" "$VS" build --input "$FIX/docs.jsonl" --output "$T/x" --model no-such-model
expect "IVF with too few documents" 1 "training IVF64,Flat on 12 documents failed" \
    "$VS" build --input "$FIX/docs.jsonl" --output "$T/x" --index IVF --nlist 64
nothing_left "failed IVF training" "$T/x"
expect "output exists" 1 "$T/c already exists" "$VS" build --input "$FIX/docs.jsonl" --output "$T/c"
expect "existing collection untouched" 0 '"rank":1,"id":3,' "$VS" search --index "$T/c" --query "football match" --json
expect "search: no collection" 1 "holds no collection" "$VS" search --index "$T/nothing" --query "cat"
expect "search: empty query" 1 "empty" "$VS" search --index "$T/c" --query ""
expect "build --help" 0 "Duplicate ids are an error" "$VS" build --input x.jsonl --help

finish
