#!/bin/sh
# Writes the WordNet 3.0 glosses (Debian wordnet-base) as a text corpus: OUT/glosses.txt (one
# gloss per line) and OUT/glosses.jsonl ({"id", "word", "pos", "text"} documents for
# `vecscale build --input`). Synsets in file order: noun, verb, adj, adv.
# Usage: bench/wordnet_glosses.sh OUT-DIR [MAX]   (default: all 117,659)
set -eu
OUT="$1"
MAX="${2:-0}"
WN=/usr/share/wordnet
[ -f "$WN/data.noun" ] || { echo "wordnet_glosses: $WN/data.noun missing: scripts/setup.sh --bench (wordnet-base)" >&2; exit 1; }
mkdir -p "$OUT"
perl -e '
  my ($max, $out) = @ARGV[0, 1];
  open(my $t, ">", "$out/glosses.txt.tmp") or die;
  open(my $j, ">", "$out/glosses.jsonl.tmp") or die;
  my $n = 0;
  for my $pos (qw(noun verb adj adv)) {
    open(my $f, "<", "/usr/share/wordnet/data.$pos") or die;
    while (<$f>) {
      next if /^ /;
      my ($head, $gloss) = split(/ \| /, $_, 2);
      next unless defined $gloss;
      $gloss =~ s/\s+$//;
      next if $gloss eq "";
      my @h = split(/ /, $head);
      (my $word = $h[4]) =~ s/_/ /g;
      print $t "$gloss\n";
      (my $g = $gloss) =~ s/(["\\])/\\$1/g;
      (my $w = $word) =~ s/(["\\])/\\$1/g;
      print $j "{\"id\":$n,\"word\":\"$w\",\"pos\":\"$pos\",\"text\":\"$g\"}\n";
      $n++;
      last if $max && $n >= $max;
    }
    last if $max && $n >= $max;
  }
  close($t); close($j);
  rename("$out/glosses.txt.tmp", "$out/glosses.txt") or die;
  rename("$out/glosses.jsonl.tmp", "$out/glosses.jsonl") or die;
  print STDERR "wordnet_glosses: $n glosses -> $out\n";
' "$MAX" "$OUT"
