#!/usr/bin/env bash
# Builds the real corpora of the experiments from Debian packages (nothing else is reachable from the
# build machines) and writes them under data/corpora/ (gitignored). The HAN documents, as CSV:
#   data/corpora/fine_foods.csv   Amazon fine-food reviews (R package modeldata, small_fine_foods):
#                                 4,000 training + 1,000 test reviews; columns text,label,split with
#                                 label great|other and split train|test as the package gives them.
#   data/corpora/austen.csv       the six Jane Austen novels (R package janeaustenr), one row per
#                                 chapter; columns text,label with the novel's title as label.
# Then prepare them with `attnscale prepare docs` (experiments/han/README.md has the commands).
# The Bible texts of the translation experiments, one verse a line (see "Bible texts" below):
#   data/corpora/bible/kjv.txt    King James Version (English 1611), SWORD module engKJV2006eb
#   data/corpora/bible/web.txt    World English Bible (modern English), engWEB2015eb
#   data/corpora/bible/sparv.txt  Reina-Valera 1909 (Spanish), spaRV1909eb
# Then pair them with `attnscale prepare pairs` (experiments/translation/README.md).
# Idempotent: packages already installed are not reinstalled and existing files are kept (FORCE=1
# rewrites them). Not run by CI: tests use the fixtures in tests/corpus/fixtures/ and tests/pairs/.
set -euo pipefail

cd "$(dirname "$0")/.."
out_dir=data/corpora
packages=(r-base-core r-cran-modeldata r-cran-janeaustenr diatheke sword-text-kjv sword-text-web sword-text-sparv)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "[fetch-corpora] installing: ${missing[*]}"
  sudo_cmd=()
  [ "$(id -u)" -ne 0 ] && sudo_cmd=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

mkdir -p "$out_dir"

if [ ! -s "$out_dir/fine_foods.csv" ] || [ "${FORCE:-0}" = 1 ]; then
  # Written to a temporary name and renamed, so an interrupted run leaves no half file behind.
  Rscript --vanilla - "$out_dir/fine_foods.csv.tmp" <<'RS'
args <- commandArgs(trailingOnly = TRUE)
data("small_fine_foods", package = "modeldata")  # defines training_data and testing_data
one <- function(d, split) data.frame(text = gsub("[\r\n]+", " ", d$review), label = as.character(d$score),
                                     split = split, stringsAsFactors = FALSE)
all <- rbind(one(training_data, "train"), one(testing_data, "test"))
write.csv(all, args[1], row.names = FALSE, fileEncoding = "UTF-8")
cat(sprintf("[fetch-corpora] fine_foods: %d train, %d test reviews\n", nrow(training_data), nrow(testing_data)))
RS
  mv "$out_dir/fine_foods.csv.tmp" "$out_dir/fine_foods.csv"
fi

if [ ! -s "$out_dir/austen.csv" ] || [ "${FORCE:-0}" = 1 ]; then
  # A chapter starts at a line "CHAPTER n" / "Chapter n"; text before the first heading (title
  # pages) is left out. Paragraphs (blank-line separated) are joined with a newline, lines inside a
  # paragraph with a space.
  Rscript --vanilla - "$out_dir/austen.csv.tmp" <<'RS'
args <- commandArgs(trailingOnly = TRUE)
books <- janeaustenr::austen_books()
rows <- list()
for (title in levels(books$book)) {
  lines <- books$text[books$book == title]
  heading <- grepl("^(CHAPTER|Chapter) [0-9IVXLC]+", lines)
  chapter <- cumsum(heading)
  for (ch in unique(chapter[chapter > 0])) {
    body <- lines[chapter == ch & !heading]
    para <- cumsum(body == "")
    text <- vapply(split(body[body != ""], para[body != ""]), paste, "", collapse = " ")
    text <- paste(text, collapse = "\n")
    if (nchar(text) > 0) rows[[length(rows) + 1]] <- data.frame(text = text, label = title, stringsAsFactors = FALSE)
  }
}
all <- do.call(rbind, rows)
write.csv(all, args[1], row.names = FALSE, fileEncoding = "UTF-8")
cat(sprintf("[fetch-corpora] austen: %d chapters from %d novels\n", nrow(all), length(unique(all$label))))
RS
  mv "$out_dir/austen.csv.tmp" "$out_dir/austen.csv"
fi

# ---- Bible texts for the translation experiments (experiments/translation/README.md) -------------
# Three SWORD modules, exported with diatheke to data/corpora/bible/{kjv,web,sparv}.txt, one verse
# a line: "Book C:V<TAB>text" (English book names as diatheke prints them, e.g. "I Samuel 3:4").
# Only the 66 books of the Protestant canon (WEB's deuterocanonical books are left out) and only
# verses with text. What is stripped from diatheke's raw OSIS output, always the same way:
#   - everything before a line's "Book C:V: " prefix: pre-verse headings (section and psalm titles,
#     which diatheke also repeats on later verses) and line/paragraph milestones;
#   - everything after the end-of-book marker (<div eID=... type="book"/>) in a book's last verse:
#     WEB puts its glossary there (17,000 characters after Revelation 22:21);
#   - every markup tag (<w ...>, <transChange>, <divineName>, <q>, <l/>, <lg/>, <div/>, <chapter/>,
#     <seg>, <lb/>, <item>, <list>, <speaker>, <milestone/>, <name>), keeping the words inside;
#     where two <w> elements touch ("</w><w", 107 times in WEB: "God</w><w ...>created"), a space;
#   - the pilcrow paragraph sign (KJV) and the module's "(name)" trailer line;
#   - runs of whitespace become one space; leading and trailing space is dropped.
# A verse left empty (a verse the translation does not have) is not written; `attnscale prepare
# pairs` aligns the files by reference (experiments/translation/README.md has the commands).
bible_dir="$out_dir/bible"
mkdir -p "$bible_dir"
for pair in kjv:engKJV2006eb web:engWEB2015eb sparv:spaRV1909eb; do
  name="${pair%%:*}" module="${pair#*:}"
  [ -s "$bible_dir/$name.txt" ] && [ "${FORCE:-0}" != 1 ] && continue
  diatheke -b "$module" -k "Gen 1:1-Rev 22:21" | python3 scripts/bible_strip.py "$module" >"$bible_dir/$name.txt.tmp"
  mv "$bible_dir/$name.txt.tmp" "$bible_dir/$name.txt"
done
echo "[fetch-corpora] corpora in $out_dir: $(cd "$out_dir" && ls -d *.csv bible/*.txt | tr '\n' ' ')"
