# WordNet (Debian wordnet-base, /usr/share/wordnet/data.*) to POST /index bodies: one synset
# per document, "word, other word: gloss", metadata {pos, synset, words}; skip_empty leaves out
# the few synsets none of whose words the model knows. Writes files
# PREFIX.000, PREFIX.001, ... of BATCH documents each (run with -v prefix=... -v batch=...).
# IDs count up across the input files in order, so they are stable for a given WordNet.
function esc(s) {
    gsub(/\\/, "\\\\", s)
    gsub(/"/, "\\\"", s)
    gsub(/\t/, " ", s)
    return s
}
function hex(s,    i, v) {  # mawk has no strtonum
    v = 0
    for (i = 1; i <= length(s); i++) v = v * 16 + index("0123456789abcdef", tolower(substr(s, i, 1))) - 1
    return v
}
BEGIN { id = 0; n = 0; file = -1 }
/^  / { next }  # licence header
{
    split(FILENAME, parts, ".")
    pos = parts[length(parts)]
    wcnt = hex($4)
    words = ""; wjson = ""
    for (i = 0; i < wcnt; i++) {
        w = $(5 + 2 * i)
        gsub(/_/, " ", w)
        sub(/\([a-z]+\)$/, "", w)  # adjective markers such as (p)
        words = words (i ? ", " : "") w
        wjson = wjson (i ? "," : "") "\"" esc(w) "\""
    }
    bar = index($0, " | ")
    gloss = bar ? substr($0, bar + 3) : ""
    sub(/[ \t]+$/, "", gloss)
    if (n % batch == 0) {
        if (file >= 0) { printf "]}\n" > out; close(out) }
        file++
        out = sprintf("%s.%03d", prefix, file)
        printf "{\"skip_empty\":true,\"documents\":[" > out
    } else {
        printf "," > out
    }
    printf "{\"id\":%d,\"text\":\"%s: %s\",\"metadata\":{\"pos\":\"%s\",\"synset\":\"%s\",\"words\":[%s]}}", id, esc(words), esc(gloss), pos, $1, wjson > out
    id++; n++
}
END { if (file >= 0) printf "]}\n" > out; print n " synsets" > "/dev/stderr" }
